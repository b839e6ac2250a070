"""The API docs at `/docs`: Swagger UI served from this app's own files, so that they work offline (no CDN).

mount_docs(app)   GET /docs (the page) and /docs/assets/* (Swagger UI 5's script, stylesheet and icon, from the
                  `swagger-ui-bundle-v2` package); build the app with `FastAPI(docs_url=None)`.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/docs"
ASSETS = f"{DOCS}/assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def assets_dir() -> Path:
    """The folder of Swagger UI's files, or an error that says which package to install."""
    folder = Path(str(swagger_ui_bundle.swagger_ui_path))
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(
            f"Swagger UI's files {missing} are not in {folder}: install them with "
            "`pip install swagger-ui-bundle-v2` (and uninstall the older `swagger-ui-bundle`, which shares its folder)"
        )
    return folder


def mount_docs(app: FastAPI) -> None:
    """Serve the Swagger UI page for `app.openapi_url` and its assets from this app."""
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} - API docs"

    @app.get(DOCS, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # No badge from the online validator (validator.swagger.io): the page fetches nothing from outside.
            swagger_ui_parameters={"validatorUrl": None},
        )
