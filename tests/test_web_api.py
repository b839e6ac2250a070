"""The REST API over a real small index: answers, streaming, search, health, validation, API key, feedback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag import Assistant, Settings
from rag.feedback import FeedbackStore, feedback_path
from rag.server import create_app

LAW_QUESTION = "When was the AI law signed?"
OFF_TOPIC = "Give me a good lasagna recipe with bechamel"
KEY = "test-key-9f2c41d7e0"


@pytest.fixture(scope="module")
def client(small_index, assistant) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    with TestClient(create_app(settings, assistant), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keyed(small_index, assistant) -> TestClient:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    keyed_settings = Settings(index_dir=settings.index_dir, api_key=KEY)
    return TestClient(create_app(keyed_settings, assistant, chat=False), raise_server_exceptions=False)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """A 4xx/5xx with a JSON body that says what went wrong (and no stack trace)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


# --- answers ----------------------------------------------------------------------------------------------------
def test_ask_returns_a_grounded_answer_whose_quotes_are_the_cited_text(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": LAW_QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["grounded"] is True
    assert "17 November 2025" in body["answer"] and "[1]" in body["answer"]
    assert body["citations"], body
    for citation in body["citations"]:
        assert {"n", "source", "title", "quote", "start", "end", "url", "score"} <= citation.keys()
        offset = citation["start"] - citation["passage_start"]
        assert citation["passage"][offset : offset + len(citation["quote"])] == citation["quote"]
        assert citation["end"] - citation["start"] == len(citation["quote"])
        assert f"[{citation['n']}]" in body["answer"]
    first = body["citations"][0]
    assert first["source"].endswith("ai-law.md")
    assert first["sources"] == [
        {"title": "Tokayev signs AI law", "url": "https://example.org/ai-law", "date": "2025-11-17"}
    ]
    assert body["timings_ms"]["total"] > 0


def test_ask_declines_an_off_topic_question_and_lists_related_passages(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": OFF_TOPIC}).json()
    assert body["grounded"] is False
    assert body["citations"] == []
    assert body["related"] and all(p["text"] and p["source"] for p in body["related"])


def test_ask_uses_history_k_and_filters(client: TestClient) -> None:
    body = client.post(
        "/api/ask",
        json={
            "question": "Was sagte Tokayev über künstliche Intelligenz?",
            "history": [[LAW_QUESTION, "signed on 17 November 2025 [1]"]],
            "k": 2,
            "filters": {"language": "de"},
        },
    ).json()
    assert body["grounded"] is True
    assert {c["source"] for c in body["citations"]} == {"corpus/tokayev-treffen.de.txt"}
    assert len(body["related"]) <= 2


def test_stream_sends_deltas_then_the_answer_then_done(client: TestClient) -> None:
    response = client.post("/api/ask/stream", json={"question": LAW_QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["answer", "done"]
    assert names[:-2] and set(names[:-2]) == {"delta"}
    answer = events[-2][1]
    assert "".join(data["text"] for name, data in events if name == "delta") == answer["answer"]
    assert answer["grounded"] is True and answer["citations"]


def test_stream_rejects_a_bad_question_before_streaming(client: TestClient) -> None:
    assert_error(client.post("/api/ask/stream", json={"question": "  "}), 422)


def test_search_returns_ranked_passages(client: TestClient) -> None:
    body = client.post("/api/search", json={"question": "national supercomputer Astana", "k": 2}).json()
    passages = body["passages"]
    assert len(passages) == 2
    assert passages[0]["source"] == "corpus/supercomputer.md"
    assert [p["rank"] for p in passages] == [1, 2]
    assert {"id", "score", "title", "text", "start", "end", "url"} <= passages[0].keys()


def test_health_reports_the_index_and_model(client: TestClient, assistant: Assistant) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["documents"] == 4 and body["chunks"] >= 4
    assert body["model"] == assistant.embedder.name
    assert body["auth_required"] is False


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/ask/stream", "/api/search", "/api/health", "/api/feedback"} <= paths.keys()
    assert client.get("/docs").status_code == 200


def test_the_chat_page_is_served_at_the_root(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and "<html" in response.text.lower()


# --- validation -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"question": ""}, 422, "empty"),
        ({"question": " \n\t "}, 422, "empty"),
        ({"question": "?!"}, 422, "no words"),
        ({"question": "x" * 4001}, 422, "4,000"),
        ({}, 422, "'question' is required"),
        ({"question": 42}, 422, "question"),
        ({"question": "hi", "colour": "red"}, 422, "unknown field 'colour'"),
        ({"question": "hi", "k": 0}, 422, "k:"),
        ({"question": "hi", "k": 51}, 422, "k:"),
        ({"question": "hi", "k": "many"}, 422, "k:"),
        ({"question": "hi", "filters": {"colour": "red"}}, 422, "unknown filter"),
        ({"question": "hi", "filters": {"language": []}}, 422, "filter"),
        ({"question": "hi", "history": [["only one"]]}, 422, "history"),
        (["question"], 422, "JSON object"),
    ],
)
def test_ask_rejects_bad_requests_with_a_clear_message(client: TestClient, body: Any, status: int, says: str) -> None:
    error = assert_error(client.post("/api/ask", json=body), status)
    assert says in error["detail"]
    assert "x" * 100 not in json.dumps(error)  # the oversized input is not echoed back


def test_bad_json_is_a_400(client: TestClient) -> None:
    error = assert_error(
        client.post("/api/ask", content=b'{"question": ', headers={"content-type": "application/json"}), 400
    )
    assert "not valid JSON" in error["detail"]


def test_a_body_without_json_content_type_is_refused(client: TestClient) -> None:
    assert_error(client.post("/api/ask", content=b'{"question": "hi"}', headers={"content-type": "text/plain"}), 422)


def test_search_validates_too(client: TestClient) -> None:
    assert_error(client.post("/api/search", json={"question": "", "k": 3}), 422)
    assert_error(client.post("/api/search", json={"question": "law", "k": 99}), 422)
    assert_error(client.post("/api/search", json={"question": "law", "history": []}), 422)


def test_a_large_body_is_a_413(client: TestClient) -> None:
    error = assert_error(client.post("/api/ask", json={"question": "a" * 70_000}), 413)
    assert "64 KB" in error["detail"]


def test_a_large_streamed_body_without_length_is_a_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(20):
            yield b"a" * 8192
        yield b'"}'

    assert_error(client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"}), 413)


def test_a_missing_index_is_a_503_that_says_how_to_build_it(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(index_dir=tmp_path / "nothing-here")
    client = TestClient(
        create_app(settings, Assistant(settings, embedder=embedder), chat=False), raise_server_exceptions=False
    )
    assert "python -m ingest" in assert_error(client.post("/api/ask", json={"question": LAW_QUESTION}), 503)["detail"]
    assert_error(client.post("/api/search", json={"question": LAW_QUESTION}), 503)
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "no_index"


# --- API key ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/ask", {"question": LAW_QUESTION}),
        ("post", "/api/ask/stream", {"question": LAW_QUESTION}),
        ("post", "/api/search", {"question": LAW_QUESTION}),
        ("post", "/api/feedback", {"rating": 1, "question": "q", "answer": "a"}),
    ],
)
def test_the_api_key_is_required_when_set(keyed: TestClient, method: str, path: str, body: dict[str, Any]) -> None:
    call = getattr(keyed, method)
    error = assert_error(call(path, json=body), 401)
    assert "API key" in error["detail"] and KEY not in json.dumps(error)
    assert_error(call(path, json=body, headers={"X-API-Key": "wrong"}), 401)
    assert_error(call(path, json=body, headers={"Authorization": f"Bearer {KEY}x"}), 401)
    assert call(path, json=body, headers={"X-API-Key": KEY}).status_code == 200
    assert call(path, json=body, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_health_needs_no_key_and_the_key_is_never_logged(keyed: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    health = keyed.get("/api/health")
    assert health.status_code == 200 and health.json()["auth_required"] is True
    keyed.post("/api/ask", json={"question": LAW_QUESTION}, headers={"X-API-Key": KEY})
    keyed.post("/api/ask", json={"question": LAW_QUESTION}, headers={"X-API-Key": KEY + "nope"})
    assert KEY not in caplog.text
    assert KEY not in json.dumps(keyed.get("/openapi.json").json())


def test_the_key_check_happens_before_validation(keyed: TestClient) -> None:
    assert_error(keyed.post("/api/ask", json={"question": ""}), 401)


# --- feedback ---------------------------------------------------------------------------------------------------
def test_feedback_is_stored(client: TestClient, small_index) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    answer = client.post("/api/ask", json={"question": LAW_QUESTION}).json()
    citations = [{k: c[k] for k in ("n", "source", "quote", "start", "end")} for c in answer["citations"]]
    response = client.post(
        "/api/feedback",
        json={
            "rating": -1,
            "question": LAW_QUESTION,
            "answer": answer["answer"],
            "citations": citations,
            "comment": "too long",
        },
    )
    assert response.status_code == 200, response.text
    row_id = response.json()["id"]
    rows = {row["id"]: row for row in FeedbackStore(feedback_path(settings.index_dir)).rows()}
    row = rows[row_id]
    assert (row["rating"], row["question"], row["answer"], row["channel"], row["comment"]) == (
        -1,
        LAW_QUESTION,
        answer["answer"],
        "api",
        "too long",
    )
    assert row["citations"] == citations


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0, "question": "q", "answer": "a"},
        {"rating": 5, "question": "q", "answer": "a"},
        {"rating": 1, "question": "", "answer": "a"},
        {"rating": 1, "question": "   ", "answer": "a"},
        {"rating": 1, "answer": "a"},
        {"rating": 1, "question": "q", "answer": "a", "extra": True},
    ],
)
def test_bad_feedback_is_refused(client: TestClient, body: dict[str, Any]) -> None:
    assert_error(client.post("/api/feedback", json=body), 422)


# --- app.py -----------------------------------------------------------------------------------------------------
def test_app_py_imports_without_side_effects_and_refuses_to_start_without_an_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "missing"), "GRADIO_ANALYTICS_ENABLED": "False"}
    imported = subprocess.run(
        [sys.executable, "-c", "import app; print('imported')"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert imported.returncode == 0 and imported.stdout.strip() == "imported", imported.stderr
    run = subprocess.run(
        [sys.executable, "app.py", "--port", "1"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "python -m ingest corpus/" in run.stderr
    assert "Traceback" not in run.stderr
    help_text = subprocess.run(
        [sys.executable, "app.py", "--help"], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert help_text.returncode == 0 and "--host" in help_text.stdout and "--port" in help_text.stdout
