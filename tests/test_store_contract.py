"""The same contract against both stores: embedded Chroma and a real `chroma run` server on 127.0.0.1."""

from __future__ import annotations

import pytest

from ingest import Indexer
from rag import Assistant, EmptyIndex
from rag.settings import Settings
from rag.store import VectorStore

from .conftest import AI_LAW, GERMAN, SUPERCOMPUTER, write_corpus
from .servers import chroma_server


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):  # type: ignore[no-untyped-def]
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def settings(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "server":
        url = request.getfixturevalue("server_url")
        # A collection per test keeps tests independent on the shared server.
        return Settings(index_dir=tmp_path / "index", chroma_url=url, collection=f"t_{tmp_path.name[-20:]}".replace("-", "_"))
    return Settings(index_dir=tmp_path / "index")


def test_ingest_ask_update_remove(settings, tmp_path, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER, "de.txt": GERMAN})
    with pytest.raises(EmptyIndex):
        Assistant(settings, embedder=embedder).stats()
    report = Indexer(settings, embedder).run([str(folder)])
    assert report.ok and len(report.added) == 3
    assistant = Assistant(settings, embedder=embedder)
    stats = assistant.stats()
    assert stats["documents"] == 3

    answer = assistant.ask("When did the AI law take effect?")
    assert answer.grounded and "January 2026" in answer.text
    assert not assistant.ask("What is the best recipe for lasagna?").grounded

    again = Indexer(settings, embedder).run([str(folder)])
    assert len(again.unchanged) == 3 and assistant.stats() == stats

    (folder / "computers.md").unlink()
    removed = Indexer(settings, embedder).run([str(folder)])
    assert removed.removed == ["docs/computers.md"]
    store = VectorStore(settings, embedder.name)
    assert {m["source"] for _, _, m in store.iter_records(include_documents=False)} == {"docs/ai-law.md", "docs/de.txt"}


def test_a_second_process_sees_the_same_index_and_follows_its_changes(settings, tmp_path, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW})
    Indexer(settings, embedder).run([str(folder)])
    reader = Assistant(settings, embedder=embedder)  # e.g. another app process
    assert not reader.retrieve("supercomputer KazLLM Alem.ai")[0].source.endswith("computers.md")
    write_corpus(folder, {"computers.md": SUPERCOMPUTER})
    Indexer(settings, embedder).run([str(folder)])
    import time

    time.sleep(1.1)  # the reader re-checks the store's generation at most once a second
    top = reader.retrieve("supercomputer KazLLM Alem.ai")[0]
    assert top.source == "docs/computers.md"
    assert top.chunk.id in set(reader.retriever.lexical().ids)
