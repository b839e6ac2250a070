"""A LangChain retriever over the engine, for people who build their own chains.

    from rag import Assistant
    from rag.langchain import RagRetriever
    retriever = RagRetriever(assistant=Assistant(), k=5)
    docs = retriever.invoke("When was the AI law signed?")   # list[langchain_core.documents.Document]
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangChainDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .assistant import Assistant
from .types import Passage


def to_langchain(passage: Passage) -> LangChainDocument:
    """A passage as a LangChain Document; metadata carries what a citation needs."""
    chunk = passage.chunk
    metadata: dict[str, Any] = {
        "source": chunk.source,
        "title": chunk.title,
        "start": chunk.start,
        "end": chunk.end,
        "score": passage.score,
        "rank": passage.rank,
        "url": chunk.url,
        "date": chunk.date,
        "page": chunk.page,
        "sources": [s.__dict__ for s in chunk.sources],
    }
    return LangChainDocument(page_content=chunk.text, metadata={k: v for k, v in metadata.items() if v is not None}, id=chunk.id)


class RagRetriever(BaseRetriever):
    """Hybrid (dense + BM25) retrieval of the engine as a LangChain `BaseRetriever`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Assistant
    k: int = 5
    filters: dict[str, Any] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[LangChainDocument]:
        """The `k` best passages (`retriever.invoke(query, k=3)` overrides the retriever's own `k` for one call)."""
        passages = self.assistant.retrieve(query, k=k if k is not None else self.k, filters=self.filters)
        return [to_langchain(p) for p in passages]
