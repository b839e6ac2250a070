"""The API-key check shared by `/api` and `/v1`: the key as `X-API-Key: <key>` or `Authorization: Bearer <key>`.

key_dependencies(settings, reject)   -> route dependencies: the check when the server has a key (RAG_API_KEY),
                                        none otherwise, so that the OpenAPI document declares the security
                                        schemes exactly when the server requires them.

Each API keeps its own error shape: `reject()` makes the exception raised for a missing or wrong key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..settings import Settings

KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's API key (RAG_API_KEY).")
BEARER = HTTPBearer(
    auto_error=False, description="The server's API key as a bearer token (what OpenAI clients send as `api_key`)."
)
WRONG_KEY = "missing or wrong API key: send it as the X-API-Key header or as 'Authorization: Bearer <key>'"


def key_dependencies(settings: Settings, reject: Callable[[], Exception]) -> list[Any]:
    """`[Depends(check)]` when the server has a key, `[]` (and no security scheme in the OpenAPI) without one."""
    if settings.api_key is None:
        return []
    expected = settings.api_key.get_secret_value().encode()

    def require_key(
        request: Request,
        key: Annotated[str | None, Depends(KEY_HEADER)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        # Every key presented must be the key: a wrong (or empty) one is refused even beside the right one.
        given = []
        if "x-api-key" in request.headers:
            given.append(key or "")
        if "authorization" in request.headers:
            given.append(bearer.credentials if bearer else "")  # anything but "Bearer <key>" is wrong
        matches = [hmac.compare_digest(g.encode(), expected) for g in given]  # each compared, in constant time
        if not matches or not all(matches):
            raise reject()

    return [Depends(require_key)]
