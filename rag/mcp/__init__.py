"""The engine as an MCP server (Model Context Protocol), for assistants such as Claude Desktop.

    python -m rag.mcp                          # stdio, settings from RAG_* environment variables
    mount_mcp(app, assistant, settings)        # streamable HTTP at /mcp of the web app (rag.mcp.http)
    build_server(assistant, settings)          # the server itself: tools ask, search, get_passage; doc:// resources
"""

from .server import build_server

__all__ = ["build_server"]
