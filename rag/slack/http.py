"""HTTP transport: Slack's Events API / slash commands / interactivity, and Slack-compatible outgoing webhooks.

    from rag.slack.http import mount_slack
    mount_slack(api, assistant, settings)   # adds the routes the settings enable

* `POST /slack/events` (needs SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN): Bolt verifies the signature and the
  timestamp (401 otherwise), answers `url_verification`, acks, and answers in the background.
* `POST /hooks/outgoing` (needs RAG_WEBHOOK_TOKEN): Mattermost / Rocket.Chat outgoing webhooks, answered in the
  response body as `{"text": ..., "response_type": "in_channel"}`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from ..feedback import FeedbackStore
from ..settings import Settings
from .bot import build_app, protect_settings
from .format import answer_plain, escape, shorten, slack_to_plain
from .listeners.common import failure_text
from .logs import log

MAX_BODY_BYTES = 1_000_000
EVENTS_PATH = "/slack/events"
WEBHOOK_PATH = "/hooks/outgoing"


def mount_slack(
    api: FastAPI,
    assistant: Any,
    settings: Settings,
    *,
    client: WebClient | None = None,
    store: FeedbackStore | None = None,
) -> App | None:
    """Add the Slack routes that `settings` enable to `api`; returns the Bolt App (None without Slack tokens)."""
    protect_settings(settings)
    routes_before = len(api.router.routes)
    app: App | None = None
    if settings.slack_signing_secret is not None and settings.slack_bot_token is not None:
        app = build_app(settings, assistant, client, store=store)
        _add_events_route(api, app)
        log.info("Slack events endpoint mounted at %s", EVENTS_PATH)
    elif settings.slack_signing_secret is not None or settings.slack_bot_token is not None:
        missing = "SLACK_BOT_TOKEN" if settings.slack_bot_token is None else "SLACK_SIGNING_SECRET"
        log.warning(
            "%s is not set, so %s is not mounted (HTTP mode needs both; see slack/README.md)", missing, EVENTS_PATH
        )
    if settings.webhook_token is not None:
        _add_webhook_route(api, assistant, settings)
        log.info("outgoing webhook endpoint mounted at %s", WEBHOOK_PATH)
    # Put the new routes first: a catch-all mounted earlier (a chat page at "/") must not shadow them.
    added = api.router.routes[routes_before:]
    del api.router.routes[routes_before:]
    api.router.routes[0:0] = added
    api.state.slack_app = app
    return app


def _too_big(request: Request) -> bool:
    try:
        return int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES
    except ValueError:
        return True


def _add_events_route(api: FastAPI, app: App) -> None:
    @api.post(EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        if _too_big(request):
            return JSONResponse({"error": "request too large"}, status_code=413)
        body = await request.body()
        # Bolt is synchronous (signature check, the first auth.test, acks): keep it off the event loop.
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)


# --- outgoing webhooks -----------------------------------------------------------------------------------------
def webhook_token_ok(given: Any, settings: Settings) -> bool:
    expected = settings.webhook_token.get_secret_value() if settings.webhook_token else ""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def parse_webhook(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload of an outgoing webhook: form-encoded (Slack, Mattermost) or JSON (Rocket.Chat, Mattermost)."""
    text = body.decode("utf-8", errors="replace")
    if "json" in (content_type or "").lower():
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def webhook_question(payload: Mapping[str, Any]) -> str:
    text = str(payload.get("text") or "")
    trigger = str(payload.get("trigger_word") or "").strip()
    if trigger and text.lstrip().lower().startswith(trigger.lower()):
        text = text.lstrip()[len(trigger) :]
    return slack_to_plain(text.lstrip(" :,"))


def answer_webhook(payload: Mapping[str, Any], assistant: Any) -> dict[str, Any]:
    """The webhook's reply body: the answer and its sources as escaped plain text, posted in the channel."""
    if payload.get("bot") not in (None, False, "", "false", {}):  # Rocket.Chat marks bot posts: never answer them
        return {}
    question = webhook_question(payload)
    if not question:
        return {
            "text": "Ask me about Kazakhstan's AI strategy, for example: When was the AI law signed?",
            "response_type": "in_channel",
        }
    try:
        answer = assistant.ask(question)
    except Exception as exc:  # noqa: BLE001
        return {
            "text": failure_text(
                exc, f" (outgoing webhook from {escape(shorten(str(payload.get('channel_name') or '?'), 40))})"
            ),
            "response_type": "in_channel",
        }
    return {"text": answer_plain(answer), "response_type": "in_channel"}


def _add_webhook_route(api: FastAPI, assistant: Any, settings: Settings) -> None:
    @api.post(WEBHOOK_PATH, include_in_schema=False)
    async def outgoing_webhook(request: Request) -> Response:
        if _too_big(request):
            return JSONResponse({"error": "request too large"}, status_code=413)
        payload = parse_webhook(await request.body(), request.headers.get("content-type", ""))
        if not webhook_token_ok(payload.get("token"), settings):
            log.warning(
                "refused an outgoing webhook with a missing or wrong token from %s",
                request.client.host if request.client else "?",
            )
            return JSONResponse({"error": "invalid token"}, status_code=401)
        reply = await run_in_threadpool(answer_webhook, payload, assistant)
        return JSONResponse(reply)
