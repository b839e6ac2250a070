"""Small collections are searched exactly in memory (rag/exact.py): the same neighbours as Chroma's search."""

from __future__ import annotations

import numpy as np
import pytest

from rag import Assistant
from rag.exact import ExactIndex, load_exact

QUESTIONS = [
    "When did the AI law take effect?",
    "Wer hat das Gesetz über künstliche Intelligenz unterzeichnet?",
    "Где запустили национальный суперкомпьютер?",
    "Which GPUs does the supercomputer use?",
]


def test_exact_search_returns_chromas_neighbours(assistant: Assistant) -> None:
    store = assistant.store
    spaces = {"dense": store, "multilingual": store.multilingual, "sentences": store.sentences}
    for question in QUESTIONS:
        query = assistant.encoder.encode(question)
        for name, space in spaces.items():
            vector = query.dense if name == "dense" else query.multilingual
            index = space.exact(20_000)
            assert isinstance(index, ExactIndex) and len(index.ids) == len(set(index.ids)) > 0
            for n in (1, 5, len(index.ids) + 10):
                exact, chroma = index.nearest(vector, n), space.nearest(vector, n)
                assert [i for i, _ in exact] == [i for i, _ in chroma], (name, question, n)
                np.testing.assert_allclose([s for _, s in exact], [s for _, s in chroma], atol=1e-4)
            assert space.exact(len(index.ids) - 1) is None  # over the limit: Chroma's index is used
            assert space.exact(0) is None


def test_the_retriever_gives_the_same_passages_either_way(small_index, embedder) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    exact = Assistant(settings, embedder=embedder)
    chroma = Assistant(settings.model_copy(update={"exact_search_max_vectors": 0}), embedder=embedder)
    for question in QUESTIONS:
        a, b = exact.retrieve(question), chroma.retrieve(question)
        assert [p.chunk.id for p in a] == [p.chunk.id for p in b]
        assert [p.score for p in a] == pytest.approx([p.score for p in b], abs=1e-4)
    assert exact.retriever._exact and all(v is not None for v in exact.retriever._exact.values())
    assert not chroma.retriever._exact
    # A filter goes to Chroma (which applies it): only passages of that language come back.
    german = exact.retrieve("Gesetz", filters={"language": "de"})
    assert german and all(p.chunk.meta.get("language") == "de" for p in german)


def test_a_collection_that_cannot_be_read_whole_is_searched_by_chroma() -> None:
    """An embedded store another process is writing can fail to find vectors its records name (seen while an
    ingest ran beside queries): no exact index then, so the retriever keeps using Chroma's search."""
    from chromadb.errors import InternalError

    class Changing:
        def count(self) -> int:
            return 3

        def get(self, **kwargs):  # type: ignore[no-untyped-def]
            raise InternalError("Error executing plan: Internal error: Error finding id")

    assert load_exact(Changing(), 5000) is None


def test_an_empty_index_and_n_zero() -> None:
    index = ExactIndex((), np.zeros((0, 0), dtype=np.float32))
    assert index.nearest(np.ones(3, dtype=np.float32), 5) == []
    one = ExactIndex(("a",), np.ones((1, 3), dtype=np.float32) / np.sqrt(3))
    assert one.nearest(np.ones(3, dtype=np.float32), 0) == []
    assert one.nearest(np.ones(3, dtype=np.float32), 3) == [("a", pytest.approx(1.0))]
