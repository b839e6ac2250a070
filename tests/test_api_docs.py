"""The API docs and the contract the OpenAPI document states, on the real app (chat mounted) over the small index.

* /docs is Swagger UI from the app's own files: no URL outside the app, in the page or fetched by it (the last
  checked in real headless Chromium with every request off 127.0.0.1 blocked).
* The document declares the API-key security scheme only when the server has a key, and the key is checked
  the same way on /api and /v1.
* A method a path does not declare answers 405 with `Allow`, in that API's error shape (not the chat's 404).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from rag import Settings
from rag.server import create_app

from .servers import chromium, serve_app

KEY = "docs-key-6d0b2e91"
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def app(small_index, assistant):  # type: ignore[no-untyped-def]
    settings, _ = small_index
    return create_app(settings, assistant)  # with the chat at "/", which must not swallow /docs or wrong methods


@pytest.fixture(scope="module")
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keyed(small_index, assistant) -> TestClient:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    keyed_settings = Settings(index_dir=settings.index_dir, api_key=KEY)
    return TestClient(create_app(keyed_settings, assistant, chat=False), raise_server_exceptions=False)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def page_urls(html: str) -> list[str]:
    """Every src/href of the page, and the URLs its inline script loads (`url: '...'`)."""
    parser = _Links()
    parser.feed(html)
    return parser.urls + re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)


# --- /docs works offline ---------------------------------------------------------------------------------------
def test_docs_reference_only_the_apps_own_files_and_they_are_served(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = page_urls(page.text)
    assert {"/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(urls)
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{url} is not on this server"
    assert "cdn" not in page.text.lower() and "validatorUrl" in page.text  # no badge from validator.swagger.io
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        suffix = os.path.splitext(url)[1]
        if suffix in CONTENT_TYPES:
            assert CONTENT_TYPES[suffix] in response.headers["content-type"], (url, response.headers["content-type"])
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle and len(bundle) > 500_000


def test_the_swagger_ui_is_version_5_which_reads_openapi_3_1(client: TestClient) -> None:
    import swagger_ui_bundle

    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert re.search(r"swagger-ui-5\.\d+", str(swagger_ui_bundle.swagger_ui_path))  # 4.x cannot render 3.1


# --- security only with a key ----------------------------------------------------------------------------------
def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": op for path, item in spec["paths"].items() for method, op in item.items()}


def test_without_a_key_the_document_declares_no_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    assert not [name for name, op in operations(spec).items() if "security" in op or "401" in op["responses"]]


def test_with_a_key_every_operation_but_health_declares_it(keyed: TestClient) -> None:
    spec = keyed.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
    ops = operations(spec)
    assert "security" not in ops["GET /api/health"]
    for name, op in ops.items():
        if name != "GET /api/health":
            assert op["security"] == [{"APIKeyHeader": []}, {"HTTPBearer": []}], name
            assert "401" in op["responses"], name
    assert KEY not in str(spec)


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/api/search", {"question": "AI law"}, lambda r: r.json()["detail"]),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "AI law"}]},
            lambda r: r.json()["error"]["message"],
        ),
    ],
)
def test_the_key_is_checked_alike_on_both_apis(keyed: TestClient, path: str, body: dict[str, Any], says: Any) -> None:
    refused = [
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "wrong", "Authorization": f"Bearer {KEY}"},  # a wrong key is never ignored
        {"X-API-Key": KEY, "Authorization": "Bearer wrong"},
    ]
    for headers in refused:
        response = keyed.post(path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer" and "API key" in says(response)
    for headers in (
        {"X-API-Key": KEY},
        {"Authorization": f"Bearer {KEY}"},
        {"X-API-Key": KEY, "Authorization": f"Bearer {KEY}"},
    ):
        assert keyed.post(path, json=body, headers=headers).status_code == 200, headers


# --- 405 for undeclared methods --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/ask", "POST"),
        ("GET", "/api/ask", "POST"),
        ("PUT", "/api/feedback", "POST"),
        ("POST", "/api/health", "GET"),
        ("TRACE", "/api/health", "GET"),
        ("PUT", "/v1/chat/completions", "POST"),
        ("GET", "/v1/chat/completions", "POST"),
        ("DELETE", "/v1/models", "GET"),
        ("PATCH", "/v1/models/anything", "GET"),
    ],
)
def test_an_undeclared_method_is_a_405_with_allow_in_the_apis_shape(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    body = response.json()
    if path.startswith("/api/"):
        assert body["error"] == "method_not_allowed" and f"use {allow}" in body["detail"]
    else:
        assert body["error"]["type"] == "invalid_request_error" and f"use {allow}" in body["error"]["message"]


def test_an_unknown_api_path_is_a_404_in_the_apis_shape_and_the_chat_still_has_the_rest(client: TestClient) -> None:
    assert client.get("/api/nothing").json()["error"] == "not_found"
    assert client.post("/v1/nothing", json={}).json()["error"]["type"] == "not_found_error"
    assert client.get("/").status_code == 200 and "<html" in client.get("/").text.lower()


# --- the page in real Chromium, offline ------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.server
@pytest.mark.slow
def test_swagger_ui_renders_the_operations_in_chromium_with_the_network_off(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    declared = len(operations(client.get("/openapi.json").json()))
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with serve_app(app) as url, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.route("**/*", only_local)
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() == declared
        assert page.locator(".opblock-summary-path", has_text="/api/ask").count() >= 1
        assert page.locator(".opblock-summary-path", has_text="/v1/chat/completions").count() == 1
        assert not errors and not outside, (errors, outside)
