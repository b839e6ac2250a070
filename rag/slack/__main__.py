"""`python -m rag.slack`: run the Slack bot over Socket Mode (or `--http` for a standalone HTTP server).

Socket Mode needs SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-..., scope connections:write); no public
URL is needed. `--http` serves POST /slack/events (and /hooks/outgoing when RAG_WEBHOOK_TOKEN is set) with
uvicorn, for when the web app is not running; it needs SLACK_SIGNING_SECRET too.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import RagError
from ..settings import Settings, apply_process_defaults


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.slack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--http", action="store_true", help="serve HTTP (Events API + webhooks) instead of Socket Mode")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    try:
        apply_process_defaults()
        settings = Settings()
    except Exception as exc:  # noqa: BLE001 - pydantic's message names the bad variable
        return _fail(f"invalid settings: {exc}")
    if settings.slack_bot_token is None:
        return _fail(
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from the app's 'OAuth & Permissions' page"
        )
    if args.http:
        if settings.slack_signing_secret is None:
            return _fail("SLACK_SIGNING_SECRET is not set: copy it from the app's 'Basic Information' page")
    elif settings.slack_app_token is None:
        return _fail(
            "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-..., scope connections:write) "
            "from the app's 'Basic Information' page; or run with --http behind a public URL"
        )

    from ..assistant import Assistant
    from ..embedder import use_serving_threads

    settings = use_serving_threads(settings)

    assistant = Assistant(settings)
    try:
        assistant.warm_up()
    except RagError as exc:
        return _fail(str(exc))

    if args.http:
        import uvicorn
        from fastapi import FastAPI

        from .http import mount_slack

        api = FastAPI(title="kz-ai-rag Slack bot")
        try:
            mount_slack(api, assistant, settings)
        except RagError as exc:
            return _fail(str(exc))
        uvicorn.run(api, host=args.host, port=args.port)
        return 0

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from .bot import build_app

    try:
        app = build_app(settings, assistant)
    except RagError as exc:
        return _fail(str(exc))
    assert settings.slack_app_token is not None
    SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
