"""ASGI middleware that refuses request bodies over a size limit with a 413 in the shape of the API it guards
(the REST API's by default; /v1 passes OpenAI's)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api_errors import error

MAX_BODY_BYTES = 64 * 1024


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KB")


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit` bytes on paths under `prefixes` (Content-Length or streamed)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        prefixes: tuple[str, ...] = ("/api/",),
        too_large: Callable[[str], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.prefixes = prefixes
        self.too_large = too_large or (lambda message: error(413, "too_large", message))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        try:
            too_big = declared is not None and int(declared) > self.limit
        except ValueError:
            too_big = False
        if too_big:
            await self.too_large(f"the request body is larger than {self.limit // 1024} KB")(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge as exc:  # raised outside FastAPI's handlers (it usually answers through them)
            if started:
                raise
            await self.too_large(str(exc.detail))(scope, receive, send)
