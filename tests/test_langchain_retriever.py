import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.langchain import RagRetriever


def test_langchain_retriever_returns_documents_with_citation_metadata(assistant, small_index):
    retriever = RagRetriever(assistant=assistant, k=3)
    docs = retriever.invoke("When did the AI law take effect?")
    assert 1 <= len(docs) <= 3
    top = docs[0]
    assert top.metadata["source"].endswith("ai-law.md")
    assert top.metadata["url"] == "https://example.org/ai-law"
    assert top.metadata["end"] - top.metadata["start"] == len(top.page_content)
    assert top.id and top.metadata["rank"] == 1


def test_langchain_retriever_applies_filters(assistant):
    docs = RagRetriever(assistant=assistant, k=3, filters={"language": "de"}).invoke("supercomputer")
    assert docs and all(d.metadata["source"].endswith(".de.txt") for d in docs)


class TestRagRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's own standard retriever suite (langchain-tests), run over the small real index."""

    @pytest.fixture(autouse=True)
    def _engine(self, assistant) -> None:  # type: ignore[no-untyped-def]
        self._assistant = assistant

    @property
    def retriever_constructor(self) -> type[RagRetriever]:
        return RagRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"assistant": self._assistant, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "When did the AI law take effect?"
