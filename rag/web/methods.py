"""405 (with `Allow`) and 404 answers for the API prefixes, before the chat mounted at "/" catches every path.

answer_unrouted(app, ("/api", "/v1"))   call after the API routes and before the chat is mounted

Without it, `DELETE /api/ask` or `GET /v1/chat/completions` fall through to the chat app (a 404 page). The answer
is raised as an HTTPException, so each prefix's own error handlers give it that API's error shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, HTTPException, Request
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: Sequence[BaseRoute], request: Request) -> list[str]:
    """The methods some route in `routes` answers on the request's path."""
    return [m for m in METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]


class _Unrouted:
    """An ASGI endpoint for every method (a class, so that Starlette does not limit it to GET)."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path, method = request.url.path, request.method
        allowed = allowed_methods(self.routes, request)
        if allowed:
            raise HTTPException(
                405,
                f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise HTTPException(404, f"there is no {path}: the API's endpoints are listed at /docs")


def answer_unrouted(app: FastAPI, prefixes: Sequence[str]) -> None:
    """Route any other method or path under each prefix to a 405 (path known, method not) or a 404."""
    endpoint = _Unrouted(list(app.router.routes))  # the routes added so far: the API's, never the chat's
    for prefix in prefixes:
        app.router.add_route(f"{prefix.rstrip('/')}/{{rest:path}}", endpoint, include_in_schema=False)
