"""The MCP server through the SDK's own client, over both transports: stdio (`python -m rag.mcp` as a subprocess)
and streamable HTTP (/mcp of the real web app under uvicorn). Real model, real Chroma index, no fakes.

Each transport gets one session (module-scoped), which makes every call the tests check; the tests then read the
results, once per transport.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from rag import Settings
from rag.server import create_app

from .servers import serve_app

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "When was the AI law signed?"
OFF_TOPIC = "What is a good recipe for lasagna?"
SESSION_TIMEOUT = 600  # seconds for a whole session: the stdio server loads its models on the first call
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def text_of(result: Any) -> str:
    """The text content of a tool result."""
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def exercise(client: Client) -> dict[str, Any]:
    """Every call the tests check, through one session."""
    out: dict[str, Any] = {"tools": {t.name: t for t in (await client.list_tools()).tools}}
    out["ask"] = await client.call_tool("ask", {"question": QUESTION})
    answer = out["ask"].structured_content
    out["quotes"] = [
        await client.call_tool("get_passage", {**{k: c[k] for k in ("source", "start", "end")}, "context": 0})
        for c in answer["citations"]
    ]
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer["answer"]}]
    out["follow_up"] = await client.call_tool("ask", {"question": "And when did it take effect?", "history": history})
    out["declined"] = await client.call_tool("ask", {"question": OFF_TOPIC})
    out["search"] = await client.call_tool("search", {"query": "national supercomputer in Astana", "k": 3})
    german = {"query": "Künstliche Intelligenz", "filters": {"language": "de"}}
    out["search_de"] = await client.call_tool("search", german)
    out["resources"] = (await client.list_resources()).resources
    out["templates"] = (await client.list_resource_templates()).resource_templates
    law = next(r for r in out["resources"] if "law" in r.title.lower())
    out["law"] = law
    out["document"] = await client.read_resource(law.uri)
    out["window"] = await client.call_tool("get_passage", {"source": law.name, "start": 60, "end": 80, "context": 10})
    typo = law.name.replace("ai-law", "ai-lw")
    out["errors"] = {
        "empty question": await client.call_tool("ask", {"question": "   "}),
        "unknown source": await client.call_tool("get_passage", {"source": typo, "start": 0, "end": 10}),
        "offsets outside": await client.call_tool("get_passage", {"source": law.name, "start": 10, "end": 10**6}),
        "offsets reversed": await client.call_tool("get_passage", {"source": law.name, "start": 50, "end": 20}),
        "bad filter": await client.call_tool("search", {"query": "AI law", "filters": {"lang": "de"}}),
        "k out of range": await client.call_tool("search", {"query": "AI law", "k": 0}),
    }
    try:
        await client.read_resource("doc://" + typo)
    except MCPError as exc:
        out["resource_error"] = str(exc)
    return out


def run_session(connect: Any) -> dict[str, Any]:
    """Open a client with `connect()` (an async context manager), exercise it, and close it."""

    async def main() -> dict[str, Any]:
        with anyio.fail_after(SESSION_TIMEOUT):
            async with connect() as client:
                return await exercise(client)

    return anyio.run(main)


@pytest.fixture(scope="module")
def over_stdio(small_index, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The results of one session with `python -m rag.mcp` (RAG_INDEX_DIR pointing at the small index)."""
    settings, _ = small_index
    passed = {k: v for k, v in os.environ.items() if k.startswith(("RAG_", "HF_", "SENTENCE_TRANSFORMERS", "TORCH"))}
    env = {**passed, "RAG_INDEX_DIR": str(settings.index_dir), "HF_HUB_OFFLINE": "1", "PATH": os.environ["PATH"],
           "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag.mcp"], env=env, cwd=str(ROOT))
    log_path = tmp_path_factory.mktemp("mcp") / "stdio-server.log"

    transport_errors: list[Exception] = []  # what the client could not read as a message (stray stdout output)

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):
            transport_errors.append(message)

    def connect() -> Client:
        return Client(stdio_client(params, errlog=errlog), read_timeout_seconds=300, message_handler=on_message)

    try:
        with open(log_path, "w") as errlog:
            results = run_session(connect)
    except Exception as exc:
        log = log_path.read_text()[-3000:]
        raise AssertionError(f"the stdio session failed ({exc!r}); the server's log:\n{log}") from exc
    return {**results, "stderr": log_path.read_text(), "transport_errors": transport_errors}


@pytest.fixture(scope="module")
def over_http(small_index, assistant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The results of one session with /mcp of the whole web app (chat included) under uvicorn, no API key."""
    settings, _ = small_index
    with serve_app(create_app(settings, assistant)) as base:
        return run_session(lambda: Client(f"{base}/mcp", read_timeout_seconds=300))


@pytest.fixture(params=["stdio", "http"])
def session(request) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The session results of each transport in turn."""
    return request.getfixturevalue(f"over_{request.param}")


def test_tools_are_listed_with_input_schemas(session: dict[str, Any]) -> None:
    tools = session["tools"]
    assert set(tools) == {"ask", "search", "get_passage", "list_documents"}
    assert tools["ask"].input_schema["required"] == ["question"]
    assert set(tools["ask"].input_schema["properties"]) == {"question", "history"}
    assert set(tools["search"].input_schema["properties"]) == {"query", "k", "filters"}
    assert set(tools["get_passage"].input_schema["required"]) == {"source", "start", "end"}
    for tool in tools.values():
        assert tool.description and tool.output_schema and tool.annotations.read_only_hint


def test_ask_returns_a_grounded_answer_whose_quotes_are_the_document_text(session: dict[str, Any]) -> None:
    result = session["ask"]
    assert not result.is_error
    answer = result.structured_content
    assert answer["grounded"] is True and "17 November 2025" in answer["answer"] and "[1]" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["n"] == 1
    assert answer["answer"] in text_of(result)  # the text content carries the same answer (as JSON)
    document = session["document"].contents[0].text
    for citation, window in zip(answer["citations"], session["quotes"]):
        assert set(citation) >= {"n", "source", "title", "url", "quote", "start", "end"}
        assert citation["source"] == session["law"].name and citation["url"] == "https://example.org/ai-law"
        assert document[citation["start"] : citation["end"]] == citation["quote"]
        assert window.structured_content["span"] == citation["quote"] == window.structured_content["text"]


def test_a_follow_up_uses_the_history(session: dict[str, Any]) -> None:
    answer = session["follow_up"].structured_content
    assert answer["grounded"] is True and "January 2026" in answer["answer"]


def test_an_off_topic_question_is_declined_without_citations(session: dict[str, Any]) -> None:
    result = session["declined"]
    assert not result.is_error
    assert result.structured_content["grounded"] is False and result.structured_content["citations"] == []


def test_search_returns_ranked_passages_with_metadata(session: dict[str, Any]) -> None:
    passages = session["search"].structured_content["passages"]
    assert 1 <= len(passages) <= 3 and [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    assert passages[0]["title"] == "Supercomputers in Kazakhstan" and "Astana" in passages[0]["text"]
    for key in ("source", "title", "url", "date", "language", "start", "end", "text", "score", "rank"):
        assert key in passages[0]
    assert passages[0]["language"] == "en" and passages[0]["date"] == "2025-07-01"
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)
    german = session["search_de"].structured_content["passages"]
    assert german and {p["language"] for p in german} == {"de"}


def test_get_passage_returns_the_window_around_the_offsets(session: dict[str, Any]) -> None:
    window = session["window"].structured_content
    document = session["document"].contents[0].text
    assert (window["start"], window["end"], window["span_start"], window["span_end"]) == (50, 90, 60, 80)
    assert window["text"] == document[50:90] and window["span"] == document[60:80]
    assert window["document_length"] == len(document) and window["uri"] == session["law"].uri


def test_documents_are_resources(session: dict[str, Any]) -> None:
    resources = session["resources"]
    assert len(resources) == 4 and all(r.uri == f"doc://{r.name}" for r in resources)
    titles = {r.title for r in resources}
    assert {"Kazakhstan's law on artificial intelligence", "Supercomputers in Kazakhstan"} <= titles
    assert [t.uri_template for t in session["templates"]] == ["doc://{source}"]
    text = session["document"].contents[0].text
    assert "President Tokayev signed Kazakhstan's law on artificial intelligence on 17 November 2025." in text
    assert "did you mean" in session["resource_error"] and repr(session["law"].name) in session["resource_error"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty question", "the question is empty"),
        ("unknown source", "did you mean"),
        ("offsets outside", "are outside"),
        ("offsets reversed", "0 <= start < end"),
        ("bad filter", "unknown filter 'lang'"),
        ("k out of range", "greater than or equal to 1"),
    ],
)
def test_bad_input_is_a_tool_error_that_says_what_is_wrong(session: dict[str, Any], case: str, expected: str) -> None:
    result = session["errors"][case]
    assert result.is_error
    message = text_of(result)
    assert expected in message and "Traceback" not in message and 'File "' not in message
    if case == "unknown source":
        assert repr(session["law"].name) in message  # the hint names the right source


def test_stdio_keeps_stdout_for_the_protocol(over_stdio: dict[str, Any]) -> None:
    assert over_stdio["transport_errors"] == []  # every line the server wrote to stdout was a protocol message
    assert "Traceback" not in over_stdio["stderr"]


@pytest.fixture(scope="module")
def keyed_url(small_index, assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A second app in this process, with an API key, under uvicorn."""
    settings, _ = small_index
    keyed = Settings(index_dir=settings.index_dir, api_key="k")
    with serve_app(create_app(keyed, assistant, chat=False)) as base:
        yield f"{base}/mcp"


def test_with_an_api_key_mcp_needs_the_bearer_key(keyed_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic k"}):
        response = httpx.post(keyed_url, json=INIT, headers={**MCP_HEADERS, **headers}, timeout=30)
        assert response.status_code == 401 and "Bearer" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"

    async def main() -> tuple[set[str], Any]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer k"}, timeout=300) as http,
            Client(streamable_http_client(keyed_url, http_client=http)) as client,
        ):
            names = {t.name for t in (await client.list_tools()).tools}
            return names, await client.call_tool("search", {"query": "AI law", "k": 1})

    names, found = anyio.run(main)
    assert names == {"ask", "search", "get_passage", "list_documents"}
    assert not found.is_error and len(found.structured_content["passages"]) == 1


def test_mcp_runs_under_testclient_each_time_the_lifespan_runs(small_index: Any, assistant: Any) -> None:
    settings, _ = small_index
    app = create_app(settings, assistant, chat=False)
    assert TestClient(app).post("/mcp", json=INIT, headers=MCP_HEADERS).status_code == 503  # no lifespan, no manager
    for _ in range(2):  # a session manager runs once: each lifespan starts a fresh one
        with TestClient(app) as client:
            response = client.post("/mcp", json=INIT, headers=MCP_HEADERS)
            assert response.status_code == 200, response.text
            assert '"serverInfo"' in response.text and "kz-ai-rag" in response.text
