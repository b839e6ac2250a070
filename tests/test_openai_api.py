"""The OpenAI-compatible API (/v1) with the official `openai` package as the client, against the real app on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from ingest.load import load_bytes
from rag import Settings
from rag.server import create_app

from .servers import serve_app

pytestmark = [pytest.mark.server]

LAW_QUESTION = "When was the AI law signed?"
OFF_TOPIC = "Give me a good lasagna recipe with bechamel"
KEY = "test-key-5b1e0c7a"


@pytest.fixture(scope="module")
def base_url(small_index, assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    assistant.warm_up()
    with serve_app(create_app(settings, assistant, chat=False)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def keyed_url(small_index, assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    with serve_app(create_app(Settings(index_dir=settings.index_dir, api_key=KEY), assistant, chat=False)) as url:
        yield url


def document_text(corpus: Path, source: str) -> str:
    path = corpus / source.split("/", 1)[1]
    return load_bytes(path, source, path.read_bytes()).text


def assert_cited(content: str, citations: list[dict], corpus: Path) -> None:
    """Every [n] in the answer has a citation whose quote is the document's text at its offsets."""
    answer = content.split("\n\nSources:\n")[0]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer)} == {c["n"] for c in citations}
    for c in citations:
        assert document_text(corpus, c["source"])[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}] {c['title']}" in content  # the readable sources list


def test_models_lists_one_model_named_after_the_collection(client: openai.OpenAI, small_index) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    models = client.models.list().data
    assert [m.id for m in models] == [settings.collection]
    assert client.models.retrieve(settings.collection).id == settings.collection
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.models.retrieve("gpt-4o")


def test_a_completion_answers_with_markers_sources_and_exact_citations(client: openai.OpenAI, small_index) -> None:  # type: ignore[no-untyped-def]
    settings, corpus = small_index
    reply = client.chat.completions.create(model=settings.collection, messages=[{"role": "user", "content": LAW_QUESTION}])
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    message = reply.choices[0].message
    extra = message.model_extra or {}
    assert extra["grounded"] is True
    assert "17 November 2025" in message.content and "[1]" in message.content
    assert "\n\nSources:\n[1] " in message.content
    assert extra["citations"] and extra["citations"][0]["source"].endswith("ai-law.md")
    assert_cited(message.content, extra["citations"], corpus)
    # one annotation per marker, each with the cited document's URL
    assert message.annotations and {a.url_citation.url for a in message.annotations} == {"https://example.org/ai-law"}
    assert len(message.annotations) == len(re.findall(r"\[\d+\]", message.content.split("\n\nSources:")[0]))
    marker = message.annotations[0].url_citation
    assert message.content[marker.start_index : marker.end_index] == "[1]"
    assert reply.usage and reply.usage.total_tokens > 0


def test_streaming_sends_openai_chunks_that_add_up_to_the_answer(client: openai.OpenAI, small_index) -> None:  # type: ignore[no-untyped-def]
    settings, corpus = small_index
    stream = client.chat.completions.create(
        model=settings.collection,
        messages=[{"role": "user", "content": LAW_QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)  # the client stops at `data: [DONE]`
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finished) == 1
    last = finished[0].choices[0].delta.model_extra or {}
    assert last["grounded"] is True and "17 November 2025" in content
    assert_cited(content, last["citations"], corpus)
    assert chunks[-1].usage and chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices


def test_an_off_topic_question_is_declined_without_citations(client: openai.OpenAI, small_index) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    message = client.chat.completions.create(
        model=settings.collection, messages=[{"role": "user", "content": OFF_TOPIC}]
    ).choices[0].message
    extra = message.model_extra or {}
    assert extra["grounded"] is False and extra["citations"] == []
    assert "[1]" not in message.content
    assert "Related, but not an answer:\n- " in message.content


def test_earlier_messages_are_the_history_and_system_messages_are_ignored(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="", messages=[{"role": "user", "content": LAW_QUESTION}])
    follow_up = client.chat.completions.create(
        model="",  # clients that send no model name get the only one
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": LAW_QUESTION},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": "When did it take effect?"}]},
        ],
    )
    extra = follow_up.choices[0].message.model_extra or {}
    assert extra["grounded"] is True
    assert {c["source"].rsplit("/", 1)[-1] for c in extra["citations"]} == {"ai-law.md"}


def test_a_german_question_gets_german_labels(client: openai.OpenAI) -> None:
    message = client.chat.completions.create(
        model="", messages=[{"role": "user", "content": "Wer hat das Gesetz über künstliche Intelligenz unterzeichnet?"}]
    ).choices[0].message
    assert (message.model_extra or {})["grounded"] is True
    assert "\n\nQuellen:\n[1] " in message.content


def test_bad_requests_get_openai_error_bodies(client: openai.OpenAI, base_url: str) -> None:
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client.chat.completions.create(model="", messages=[{"role": "system", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="at least one message"):
        client.chat.completions.create(model="", messages=[])
    with pytest.raises(openai.NotFoundError, match="'gpt-4o' does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": LAW_QUESTION}])
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model="", messages=[{"role": "user", "content": "   "}])
    assert empty.value.body and "Traceback" not in str(empty.value.body)
    raw = httpx.post(f"{base_url}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    huge = httpx.post(f"{base_url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 1_100_000}]})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    wrong_method = httpx.delete(f"{base_url}/v1/chat/completions")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_the_api_key_is_required_as_a_bearer_token_when_set(keyed_url: str) -> None:
    anonymous = openai.OpenAI(base_url=f"{keyed_url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="API key"):
        anonymous.models.list()
    with pytest.raises(openai.AuthenticationError):
        anonymous.chat.completions.create(model="", messages=[{"role": "user", "content": LAW_QUESTION}])
    keyed = openai.OpenAI(base_url=f"{keyed_url}/v1", api_key=KEY, max_retries=0, timeout=60)
    assert keyed.models.list().data
    reply = keyed.chat.completions.create(model="", messages=[{"role": "user", "content": LAW_QUESTION}])
    assert (reply.choices[0].message.model_extra or {})["grounded"] is True


def test_a_large_streamed_body_without_length_is_an_openai_413(base_url: str) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}]}'

    response = httpx.post(f"{base_url}/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["type"] == "invalid_request_error"
