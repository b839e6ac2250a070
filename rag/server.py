"""The assembly: every front end mounted on one FastAPI app, the one module that imports them all.

REST API under `/api` (documents too: list, upload, delete, with the ingester the entry point gives) and its docs
at `/docs` (rag.web), OpenAI-compatible chat under `/v1` (rag.web), MCP over
streamable HTTP at `/mcp` (rag.mcp), the Slack routes when configured (rag.slack), and the chat page at `/`
(rag.web), mounted last because it catches every path not routed before it.

create_app(settings, assistant)  -> FastAPI   (what the tests and `python app.py` use)
main(["--port", "7860"])          -> serves it with uvicorn
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from fastapi import FastAPI

from .assistant import Assistant
from .catalog import Catalog
from .embedder import use_serving_threads
from .errors import RagError
from .feedback import FeedbackStore, feedback_path
from .mcp.http import mount_mcp
from .settings import Settings, apply_process_defaults
from .slack.http import mount_slack
from .upload_jobs import Uploads, uploads_folder
from .uploads import Ingester
from .web import api_errors, openai_api
from .web.admission import AdmissionLimit
from .web.api import build_router
from .web.api_errors import install_error_handlers
from .web.body_limit import MAX_BODY_BYTES, BodyLimit
from .web.docs import mount_docs
from .web.documents_api import UPLOAD_PATH, build_documents_router
from .web.methods import answer_unrouted
from .web.upload_limit import BodyLimitExcept, upload_limit_bytes, upload_too_large

log = logging.getLogger(__name__)

DESCRIPTION = """Questions about Kazakhstan's national AI strategy, answered from a document corpus with verified citations.

* Every sentence of an answer is quoted from a document and carries `[n]`; `citations[n-1].quote` is exactly
  the document text at `start:end`.
* `grounded: false` means the documents do not answer the question; `related` then lists the closest passages.
* When the server has an API key (`RAG_API_KEY`), send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.

The chat page is at [`/`](/).
"""


def create_app(
    settings: Settings,
    assistant: Assistant | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    chat: bool = True,
    ingester: Ingester | None = None,
) -> FastAPI:
    """The whole web app. The engine opens its index lazily: a missing index answers 503, it does not fail here.
    `ingester` (ingest.uploads.FileIngester; `python app.py` gives one) turns on uploading and deleting documents."""
    assistant = assistant or Assistant(settings)
    feedback = FeedbackStore(feedback_path(settings.index_dir))
    catalog = Catalog(lambda: assistant.store, uploads_folder(settings))
    uploads = Uploads(settings, ingester, catalog)

    api = FastAPI(
        title="Kazakhstan AI Strategy Q&A",
        description=DESCRIPTION,
        version="0.1.0",
        docs_url=None,  # mount_docs serves /docs from local files
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    mount_docs(api)  # /docs: Swagger UI with its own assets, no CDN (rag/web/docs.py)
    install_error_handlers(api)
    api.add_middleware(BodyLimitExcept, limit=max_body_bytes, prefixes=("/api/",), exempt=(UPLOAD_PATH,))
    api.add_middleware(
        BodyLimit, limit=upload_limit_bytes(settings), prefixes=(UPLOAD_PATH,), too_large=upload_too_large(settings)
    )
    api.include_router(build_router(assistant, settings, feedback))
    api.include_router(build_documents_router(catalog, uploads, settings))
    api.state.assistant = assistant
    api.state.settings = settings
    api.state.feedback = feedback
    api.state.uploads = uploads
    openai_api.mount_openai(api, assistant, settings)  # /v1: OpenAI-compatible chat (rag/web/openai_api.py)
    mount_mcp(api, assistant, settings)  # /mcp: the MCP server over streamable HTTP (rag/mcp/http.py)

    mount_slack(api, assistant, settings, store=feedback)  # /slack/events, /hooks/outgoing when configured

    # Questions beyond the bound get 503 + Retry-After at once rather than an unbounded wait (rag/web/admission.py).
    busy = (("/api/ask", api_errors.busy), ("/api/search", api_errors.busy), ("/v1/chat/completions", openai_api.busy))
    api.add_middleware(AdmissionLimit, limit=settings.max_concurrent_requests, routes=busy)
    answer_unrouted(api, ("/api", "/v1"))  # 405 + Allow / 404 in each API's shape, not the chat's (rag/web/methods.py)
    if chat:
        from .web.chat import (  # Gradio: imported when the page is built (seconds), not for --help
            build_chat,
            mount_chat,
        )

        api = mount_chat(api, build_chat(assistant, settings, feedback, uploads), path="/")
    return api


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the chat page and the REST API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(argv: Sequence[str] | None = None, ingester: Callable[[Settings, Assistant], Ingester] | None = None) -> int:
    """Serve the app; `ingester(settings, assistant)` builds the ingester that turns uploads on (app.py gives it)."""
    args = build_parser().parse_args(argv)
    apply_process_defaults()
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"error: bad setting: {exc}", file=sys.stderr)
        return 2
    settings = use_serving_threads(settings)
    assistant = Assistant(settings)
    try:
        stats = assistant.stats()
        if not stats["chunks"]:
            raise RagError(f"the index at {settings.index_dir} is empty")
        assistant.warm_up()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(
            "Build the index first:  python -m ingest corpus/   (or `make run`, which ingests before starting)",
            file=sys.stderr,
        )
        return 2
    app = create_app(settings, assistant, ingester=ingester(settings, assistant) if ingester else None)

    import uvicorn

    print(
        f"Serving {stats['documents']} documents ({stats['chunks']} passages) with {assistant.embedder.name}: "
        f"chat http://{args.host}:{args.port}/  API docs http://{args.host}:{args.port}/docs  "
        f"OpenAI API http://{args.host}:{args.port}/v1  MCP http://{args.host}:{args.port}/mcp",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=False)
    return 0
