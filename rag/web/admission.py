"""ASGI middleware that bounds the questions a web app holds at once: past the bound, 503 + Retry-After at once.

Without it, a burst waits without limit in the thread pool's queue, every client times out together, and the
server works on answers nobody is still waiting for. Each guarded prefix answers in its own API's shape (the
REST API's error body, OpenAI's under /v1). Requests are counted from arrival until their response (a stream
included) has been sent, so the bound covers waiting and working alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1


class AdmissionLimit:
    """At most `limit` requests at once on the `(prefix, busy)` routes; `busy(message, headers)` answers the rest."""

    def __init__(self, app: ASGIApp, limit: int, routes: Sequence[tuple[str, Callable[[str, dict[str, str]], ASGIApp]]]) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.app = app
        self.limit = limit
        self.routes = tuple(routes)
        self.in_flight = 0  # one event loop: no lock needed
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        route = next((busy for prefix, busy in self.routes if path.startswith(prefix)), None) if scope["type"] == "http" else None
        if route is None or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            log.warning("busy: %d requests in progress, refused %s %s", self.in_flight, scope.get("method"), path)
            message = f"the server is answering {self.in_flight} questions; try again in {RETRY_AFTER_SECONDS} s"
            await route(message, {"Retry-After": str(RETRY_AFTER_SECONDS)})(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
