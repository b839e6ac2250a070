"""The body limits of the REST API: the small one for every `/api/` route but the upload, a larger one for it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings
from .api_errors import error
from .body_limit import BodyLimit


class BodyLimitExcept(BodyLimit):
    """`BodyLimit` on its prefixes except the `exempt` paths, which are guarded by a limit of their own."""

    def __init__(self, app: ASGIApp, *, exempt: tuple[str, ...], **options) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app, **options)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).rstrip("/") in self.exempt:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def upload_limit_bytes(settings: Settings) -> int:
    return int(settings.upload_max_mb * 1024 * 1024)


def upload_too_large(settings: Settings):  # type: ignore[no-untyped-def]
    """The 413 of an upload request over RAG_UPLOAD_MAX_MB, in the REST API's shape."""
    message = (
        f"the upload is larger than {settings.upload_max_mb:g} MB (RAG_UPLOAD_MAX_MB): send fewer files per request, "
        f"each at most {settings.max_file_mb:g} MB (RAG_MAX_FILE_MB)"
    )
    return lambda _: error(413, "too_large", message)
