"""The MCP server: the engine's `ask`, `search`, `get_passage` and `list_documents` tools, and the corpus'
documents as resources.

build_server(assistant, settings)   -> the server, served over stdio (`python -m rag.mcp`) or HTTP (`rag.mcp.http`)

Tools answer with structured content (the output schemas below) and the same object as JSON text. A failure the
caller can fix (an empty question, an unknown source, offsets outside a document, no index yet) is a tool error
whose message says what is wrong and how to fix it; anything else is logged and reported without a traceback.
"""

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import Resource, ResourceTemplate, ToolAnnotations
from pydantic import Field
from typing_extensions import TypedDict

from ..answering.messages import spoken
from ..assistant import Assistant
from ..catalog import Catalog
from ..conversation import as_turns
from ..errors import EmptyIndex, RagError
from ..settings import Settings
from ..types import Answer, Passage, passage_to_dict
from ..upload_jobs import uploads_folder
from .documents import DOC_SCHEME, MAX_CONTEXT, CorpusDocuments, DocumentError, DocumentInfo, source_of
from .listing import register_list_documents

log = logging.getLogger(__name__)

NAME = "kz-ai-rag"
VERSION = "0.1.0"
MAX_K = 50
MAX_HISTORY_TURNS = 50
INSTRUCTIONS = """Answers questions about Kazakhstan's national AI strategy from a document corpus, with verified
citations.

- `ask` answers a question: every sentence carries [n], and citations[n-1].quote is exactly the document text
  at start:end of its source. grounded=false means the documents do not answer it: say so, do not guess.
- `search` returns the ranked passages for a query, with their source and offsets.
- `get_passage` returns a document's text around start:end (to read the context of a citation).
- `list_documents` lists the indexed documents (source, title, language, date, passages).
- Each document is also a resource, doc://<source>."""
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_T = TypeVar("_T")


# --- the tools' output: the web API's fields (Citation.to_dict, passage_to_dict), without the bulky ones ---------
class HistoryMessage(TypedDict):
    """An earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str


class CitationOut(TypedDict):
    """`[n]` in the answer: `quote` is exactly the text at `start:end` of the document `source`."""

    n: int
    source: str
    title: str
    url: str | None
    date: str | None
    page: int | None
    quote: str
    start: int
    end: int
    score: float


class PassageOut(TypedDict):
    """A retrieved passage: `text` is the text at `start:end` of the document `source`; rank 1 is the best."""

    rank: int
    score: float
    source: str
    title: str
    url: str | None
    date: str | None
    language: str | None
    page: int | None
    start: int
    end: int
    text: str


class AskOut(TypedDict):
    """An answer with [n] markers and its citations, or a decline (grounded=false, no citations)."""

    answer: str
    grounded: bool
    language: str
    citations: list[CitationOut]
    related: list[PassageOut]


class SearchOut(TypedDict):
    """The ranked passages for a query."""

    query: str
    passages: list[PassageOut]


class PassageWindowOut(TypedDict):
    """Document text from `start` to `end`; the part asked for is `span` (`span_start:span_end`)."""

    source: str
    title: str
    url: str | None
    uri: str
    document_length: int
    start: int
    end: int
    text: str
    span_start: int
    span_end: int
    span: str


# --- serialising the engine's results --------------------------------------------------------------------------
def passage_dict(passage: Passage) -> dict[str, Any]:
    """The web API's passage fields plus the document's language."""
    return {**passage_to_dict(passage), "language": passage.chunk.meta.get("language")}


def answer_dict(answer: Answer) -> dict[str, Any]:
    """An answer as the `ask` tool returns it (`related` passages only when it declined)."""
    return {
        "answer": answer.text,
        "grounded": answer.grounded,
        "language": answer.language,
        "citations": [c.to_dict() for c in answer.citations],
        "related": [passage_dict(p) for p in answer.related] if not answer.grounded else [],
    }


def resource_of(info: DocumentInfo) -> Resource:
    """The MCP resource entry of a document."""
    details = ", ".join(x for x in (info.date, info.language, f"{info.length:,} characters") if x)
    return Resource(
        uri=info.uri, name=info.source, title=info.title, description=f"{info.title} ({details})",
        mime_type="text/plain", size=info.length,
    )


def _engine(call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """`call(...)`, its engine errors turned into tool errors (their messages say what to fix)."""
    try:
        return call(*args, **kwargs)
    except RagError as exc:
        raise ToolError(str(exc)) from exc


class CorpusServer(MCPServer):
    """An MCPServer whose resources are the documents of the index (listed fresh, so an ingest shows up)."""

    def __init__(self, documents: CorpusDocuments, **kwargs: Any) -> None:
        # MCPServer calls logging.basicConfig; a library must not configure logging, so give it a no-op here.
        root = logging.getLogger()
        placeholder = None if root.handlers else logging.NullHandler()
        if placeholder is not None:
            root.addHandler(placeholder)
        try:
            super().__init__(**kwargs)
        finally:
            if placeholder is not None:
                root.removeHandler(placeholder)
        self.documents = documents

    async def list_resources(self) -> list[Resource]:
        """Every indexed document as `doc://<source>` (none while there is no index)."""
        try:
            catalog = await anyio.to_thread.run_sync(self.documents.catalog)
        except EmptyIndex as exc:
            log.warning("no documents to list: %s", exc)
            catalog = {}
        return [resource_of(info) for info in catalog.values()] + await super().list_resources()

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        """`doc://{source}`: any document by its source."""
        template = ResourceTemplate(
            uri_template=DOC_SCHEME + "{source}", name="document", title="A document of the corpus",
            description="The whole text of a document; `source` as in search results and citations.",
            mime_type="text/plain",
        )
        return [template] + await super().list_resource_templates()

    async def read_resource(self, uri: Any, context: Any = None) -> Iterable[ReadResourceContents] | Any:
        """The text of `doc://<source>`; other URIs go to the resources registered on the server."""
        source = source_of(str(uri))
        if source is None:
            return await super().read_resource(uri, context)
        try:
            text = await anyio.to_thread.run_sync(self.documents.text, source)
        except DocumentError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except RagError as exc:
            raise ResourceError(str(exc)) from exc
        return [ReadResourceContents(content=text, mime_type="text/plain")]


def _warm_up_lifespan(assistant: Assistant) -> Callable[[MCPServer], Any]:
    """A lifespan that loads the models in the background, so that the first tool call is quick."""

    def warm_up() -> None:
        try:
            assistant.warm_up()
        except RagError as exc:
            log.warning("not warmed up: %s", exc)
        except Exception:
            log.exception("warming up failed; the first tool call will try again")

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        threading.Thread(target=warm_up, name="rag-warm-up", daemon=True).start()
        yield {}

    return lifespan


def build_server(assistant: Assistant, settings: Settings, *, warm_up: bool = False) -> CorpusServer:
    """The MCP server over `assistant`'s index. `warm_up` loads the models when a transport starts serving."""
    documents = CorpusDocuments(assistant)
    server = CorpusServer(
        documents, name=NAME, title="Kazakhstan AI Strategy Q&A", version=VERSION, instructions=INSTRUCTIONS,
        lifespan=_warm_up_lifespan(assistant) if warm_up else None,
    )

    @server.tool(annotations=_READ_ONLY)
    def ask(
        question: Annotated[str, Field(description=f"The question, in {spoken()}.")],
        history: Annotated[
            list[HistoryMessage] | None,
            Field(description="Earlier messages of the conversation, oldest first (for follow-up questions)."),
        ] = None,
    ) -> AskOut:
        """Answer a question about Kazakhstan's AI strategy from the corpus.

        Every sentence of `answer` carries [n]; citations[n-1].quote is exactly the text at start:end of its
        source. grounded=false means the documents do not answer the question (`related` then lists the closest
        passages): say so rather than answering from memory."""
        turns = as_turns(history or [])[-MAX_HISTORY_TURNS:]
        return answer_dict(_engine(assistant.ask, question, turns))  # type: ignore[return-value]

    @server.tool(annotations=_READ_ONLY)
    def search(
        query: Annotated[str, Field(description=f"What to look for, in {spoken()}.")],
        k: Annotated[
            int | None, Field(ge=1, le=MAX_K, description=f"How many passages (1-{MAX_K}; default {settings.top_k}).")
        ] = None,
        filters: Annotated[
            dict[str, str | list[str]] | None,
            Field(description='Restrict the search, e.g. {"language": "de"} or {"source": ["ai-law.md"]}.'),
        ] = None,
    ) -> SearchOut:
        """The corpus passages that best match a query, best first, with their source, offsets and metadata."""
        passages = _engine(assistant.retrieve, query, k=k, filters=filters)
        return {"query": query, "passages": [passage_dict(p) for p in passages]}  # type: ignore[typeddict-item]

    @server.tool(annotations=_READ_ONLY)
    def get_passage(
        source: Annotated[str, Field(description="The document's source, as in citations and search results.")],
        start: Annotated[int, Field(description="Where the passage starts (a character offset in the document).")],
        end: Annotated[int, Field(description="Where the passage ends (exclusive).")],
        context: Annotated[
            int, Field(ge=0, le=MAX_CONTEXT, description="Characters of context to add on each side.")
        ] = 300,
    ) -> PassageWindowOut:
        """A document's text around start:end (a citation's or a search result's), with `context` characters
        on each side; `span` is exactly the text at start:end."""
        window = _engine(documents.window, source, start, end, context)
        info = window.document
        return {
            "source": info.source, "title": info.title, "url": info.url, "uri": info.uri,
            "document_length": info.length, "start": window.start, "end": window.end, "text": window.text,
            "span_start": window.span_start, "span_end": window.span_end, "span": window.span,
        }

    register_list_documents(server, Catalog(lambda: assistant.store, uploads_folder(settings)))
    return server
