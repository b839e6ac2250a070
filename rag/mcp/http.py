"""The MCP server over streamable HTTP at `/mcp` of the web app.

mount_mcp(app, assistant, settings)   adds /mcp to a FastAPI app (before the chat is mounted at "/")

The SDK's session manager must run for as long as the app serves: it is started and stopped by the app's lifespan
(uvicorn, or fastapi's TestClient used as a context manager), a fresh one each time the lifespan runs. When the
server has an API key, /mcp requires `Authorization: Bearer <key>` (or `X-API-Key: <key>`, as the REST API).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from ..assistant import Assistant
from ..settings import Settings
from .server import CorpusServer, build_server

log = logging.getLogger(__name__)

PATH = "/mcp"
# The Host header is not checked: the app serves on any address it is given, and /api answers the same data.
# The key (settings.api_key) is what guards the endpoint.
_TRANSPORT = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def _presented_key(headers: Headers) -> str | None:
    """The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key`."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key")


class McpEndpoint:
    """The ASGI app at /mcp: checks the key, then hands the request to the running session manager."""

    def __init__(self, server: CorpusServer, api_key: str | None) -> None:
        self._server = server
        self._expected = api_key.encode() if api_key is not None else None
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run a fresh session manager (a manager can only run once) until the block ends."""
        self._server.streamable_http_app(streamable_http_path=PATH, transport_security=_TRANSPORT)
        manager = self._server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if self._expected is not None:
            given = _presented_key(headers)
            if given is None or not hmac.compare_digest(given.encode(), self._expected):
                response = JSONResponse(
                    {"detail": "missing or wrong API key: send it as 'Authorization: Bearer <key>'",
                     "error": "unauthorized"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        manager = self._manager
        if manager is None:
            response = JSONResponse(
                {"detail": "the MCP endpoint is not running: serve the app with its lifespan (uvicorn, or "
                           "fastapi's TestClient used as a context manager)", "error": "not_running"},
                status_code=503,
            )
            await response(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)


def mount_mcp(app: FastAPI, assistant: Assistant, settings: Settings) -> None:
    """Serve a new MCP server over `assistant` at /mcp of `app`, its session manager run by the app's lifespan."""
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    endpoint = McpEndpoint(build_server(assistant, settings), key)
    for path in (PATH, PATH + "/"):
        app.router.add_route(path, endpoint, include_in_schema=False)  # type: ignore[arg-type]

    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with endpoint.running(), previous(asgi_app) as state:
            yield state

    app.router.lifespan_context = lifespan
