"""The `list_documents` tool: every indexed document with its metadata (read-only; the REST API's listing)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from typing_extensions import TypedDict

from ..catalog import Catalog
from ..errors import RagError
from .documents import document_uri

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class DocumentOut(TypedDict):
    """One indexed document; read its text as the resource `uri`."""

    id: str
    source: str
    uri: str
    title: str
    language: str | None
    date: str | None
    passages: int
    added: str | None
    url: str | None


class DocumentsOut(TypedDict):
    """The indexed documents, sorted by title."""

    count: int
    documents: list[DocumentOut]


def register_list_documents(server: MCPServer, catalog: Catalog) -> None:
    """Add the `list_documents` tool to `server`."""

    @server.tool(annotations=_READ_ONLY)
    def list_documents() -> DocumentsOut:
        """Every document in the index: source (as in citations; use it in search filters), title, language,
        date, how many passages it is indexed as, and when it was uploaded (null for documents ingested by the
        command line)."""
        try:
            entries = catalog.entries()
        except RagError as exc:
            raise ToolError(str(exc)) from exc
        documents: list[Any] = [
            {
                "id": e.id, "source": e.source, "uri": document_uri(e.source), "title": e.title, "language": e.language,
                "date": e.date, "passages": e.passages, "added": e.added, "url": e.url,
            }
            for e in entries
        ]
        return {"count": len(documents), "documents": documents}
