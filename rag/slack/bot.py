"""The Slack bot: a Bolt `App` whose listeners answer mentions, direct messages, `/ask` and feedback clicks.

Layout (Bolt's): `build_app()` makes the App, `register()` wires the middleware and the listeners, and every
listener is a plain function in `listeners/` by kind (`events.answer_event`, `commands.answer_command`,
`actions.record_feedback`, ...) that tests can call with fake `client` / `respond` objects. Slow work (answering) runs in Bolt lazy listeners, after Slack got its ack.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from ..errors import ConfigError
from ..feedback import FeedbackStore, feedback_path
from ..settings import Settings
from .listeners import actions, commands, events
from .logs import bolt_log, log, protect
from .memory import AnswerLog, Answers, RecentKeys, SeenKeys
from .state import SlackState, slack_state_path

DEFAULT_API_URL = "https://slack.com/api/"


# --- the app -------------------------------------------------------------------------------------------------
def api_base_url(settings: Settings) -> str:
    url = (settings.slack_api_url or DEFAULT_API_URL).strip()
    return url if url.endswith("/") else url + "/"


def protect_settings(settings: Settings) -> None:
    protect(
        s
        for s in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.webhook_token,
            settings.api_key,
        )
        if s
    )


def build_app(
    settings: Settings,
    assistant: Any,
    client: WebClient | None = None,
    *,
    store: FeedbackStore | None = None,
    answers: Answers | None = None,
    seen: SeenKeys | None = None,
) -> App:
    """A Bolt App for one workspace, with the listeners registered.

    Events already seen and answers awaiting feedback are kept beside the index (`slack_state.sqlite3`), shared
    by every process serving the app and kept across restarts; pass `answers=AnswerLog(), seen=RecentKeys()`
    to keep them in this process only.

    No Slack API call happens here: the token is checked (`auth.test`) on the first request instead of at
    start-up. Without a signing secret (Socket Mode) HTTP requests are verified against a random secret,
    so none can pass.
    """
    protect_settings(settings)
    if client is None:
        if settings.slack_bot_token is None:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from the Slack app's OAuth page"
            )
        client = WebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=api_base_url(settings), logger=bolt_log
        )
    elif not client.token:
        raise ConfigError("the Slack WebClient given to build_app has no token")
    else:
        protect([client.token])
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else secrets.token_hex(32)
    )
    app = App(
        name="rag.slack",
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,
        logger=bolt_log,
    )
    if answers is None or seen is None:
        state = SlackState(slack_state_path(settings.index_dir))
        answers = answers if answers is not None else state.answers
        seen = seen if seen is not None else state.seen
    register(app, assistant, store or FeedbackStore(feedback_path(settings.index_dir)), answers=answers, seen=seen)
    return app


def register(
    app: App,
    assistant: Any,
    store: FeedbackStore,
    *,
    answers: Answers | None = None,
    seen: SeenKeys | None = None,
) -> App:
    """Wire the middleware and listeners into `app`: acks are immediate, answers come from lazy listeners.

    Without `answers` / `seen`, they are kept in SQLite beside the feedback store's file (shared by processes,
    kept across restarts), or in this process when the store has no file.
    """
    if answers is None or seen is None:
        where = getattr(store, "path", None)
        state = SlackState(slack_state_path(Path(where).parent)) if where is not None else None
        answers = answers if answers is not None else (state.answers if state else AnswerLog())
        seen = seen if seen is not None else (state.seen if state else RecentKeys())

    def skip_retries_and_duplicates(body: dict, request: Any, next: Callable[[], Any]) -> Any:
        return drop_duplicate_events(body, request, next, seen=seen)

    app.middleware(skip_retries_and_duplicates)
    events.register(app, assistant, answers)
    commands.register(app, assistant, answers)
    actions.register(app, store, answers)
    return app


# --- middleware and matchers ------------------------------------------------------------------------------------
def _header(request: Any, name: str) -> str | None:
    values = (getattr(request, "headers", None) or {}).get(name)
    if isinstance(values, (list, tuple)):
        return values[0] if values else None
    return values


def drop_duplicate_events(body: dict, request: Any, next: Callable[[], Any], *, seen: SeenKeys) -> Any:
    """Slack re-sends an event it thinks was missed (`X-Slack-Retry-Num`): answer each message only once.

    An event is dropped when its `event_id` or its message (channel, ts) was seen in the last hour, or when
    it is a retry because our ack was slow (`X-Slack-Retry-Reason: http_timeout`: the first delivery is
    being answered, maybe by another process). `seen` is shared by the app's processes and kept across
    restarts (rag.slack.state); other retries of unseen events (a delivery that never reached us) go on.
    """
    if body.get("type") != "event_callback" or getattr(request, "lazy_only", False):
        return next()
    event = body.get("event") or {}
    keys = []
    if body.get("event_id"):
        keys.append(f"event:{body['event_id']}")
    if event.get("type") in ("app_mention", "message") and not event.get("subtype") and event.get("ts"):
        keys.append(f"message:{event.get('channel')}:{event['ts']}")
    fresh = seen.add(*keys)
    retry_num = _header(request, "x-slack-retry-num")
    reason = _header(request, "x-slack-retry-reason")
    if fresh and not (retry_num and reason == "http_timeout"):
        return next()
    log.info(
        "dropping a repeated Slack event %s (%s, retry %s, reason %s)",
        body.get("event_id"),
        event.get("type"),
        retry_num or "-",
        reason or "-",
    )
    return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})


# --- answering ---------------------------------------------------------------------------------------------------


