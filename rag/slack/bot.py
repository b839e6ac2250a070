"""The Slack bot: a Bolt `App` whose listeners answer mentions, direct messages, `/ask` and feedback clicks.

Layout (Bolt's): `build_app()` makes the App, `register()` wires the listeners, and every listener is a
plain function here (`answer_event`, `answer_command`, `record_feedback`, ...) that tests can call with fake
`client` / `respond` objects. Slow work (answering) runs in Bolt lazy listeners, after Slack got its ack.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from ..errors import ConfigError, EmptyIndex, InvalidQuestion, RagError
from ..feedback import Feedback, FeedbackStore, feedback_path
from ..settings import Settings
from ..types import Answer
from .format import (
    FEEDBACK_ACTIONS,
    HELPFUL,
    answer_blocks,
    answer_fallback,
    answer_only,
    escape,
    notice_blocks,
    slack_to_plain,
)
from .logs import bolt_log, log, protect
from .memory import AnswerLog, AnswerRecord, RecentKeys

DEFAULT_API_URL = "https://slack.com/api/"
PROGRESS_REACTION = "eyes"
HISTORY_TURNS = 8
HISTORY_MESSAGES = 200
USAGE = "Ask me about Kazakhstan's AI strategy, for example `/ask When was the AI law signed?`"
APOLOGY = ":warning: Sorry, something went wrong while I was answering. Please try again in a moment."
NO_INDEX = ":warning: Sorry, I have no documents to search yet. An administrator needs to build the index first."

Say = Callable[..., Any]


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
    answers: AnswerLog | None = None,
    seen: RecentKeys | None = None,
) -> App:
    """A Bolt App for one workspace, with the listeners registered.

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
    register(app, assistant, store or FeedbackStore(feedback_path(settings.index_dir)), answers=answers, seen=seen)
    return app


def register(
    app: App,
    assistant: Any,
    store: FeedbackStore,
    *,
    answers: AnswerLog | None = None,
    seen: RecentKeys | None = None,
) -> App:
    """Wire the middleware and listeners into `app`: acks are immediate, answers come from lazy listeners."""
    answers = answers if answers is not None else AnswerLog()
    seen = seen if seen is not None else RecentKeys()

    def skip_retries_and_duplicates(body: dict, request: Any, next: Callable[[], Any]) -> Any:
        return drop_duplicate_events(body, request, next, seen=seen)

    def on_event(event: dict, client: WebClient, context: Any) -> None:
        answer_event(
            event, client, assistant=assistant, answers=answers, bot_user_id=context.bot_user_id, bot_id=context.bot_id
        )

    def on_command(command: dict, respond: Say) -> None:
        answer_command(command, respond, assistant=assistant, answers=answers)

    def on_feedback(body: dict, action: dict, respond: Say) -> None:
        record_feedback(body, action, respond, store=store, answers=answers)

    app.middleware(skip_retries_and_duplicates)
    app.event("app_mention")(ack=ack_only, lazy=[on_event])
    app.event({"type": "message", "subtype": None}, matchers=[is_direct_question])(ack=ack_only, lazy=[on_event])
    app.event("message")(ack_only)  # everything else (edits, bot posts, channel chatter): acknowledged, ignored
    app.command("/ask")(ack=ack_command, lazy=[on_command])
    app.action(re.compile("^(" + "|".join(FEEDBACK_ACTIONS) + ")$"))(ack=ack_only, lazy=[on_feedback])
    return app


# --- middleware and matchers ------------------------------------------------------------------------------------
def _header(request: Any, name: str) -> str | None:
    values = (getattr(request, "headers", None) or {}).get(name)
    if isinstance(values, (list, tuple)):
        return values[0] if values else None
    return values


def drop_duplicate_events(body: dict, request: Any, next: Callable[[], Any], *, seen: RecentKeys) -> Any:
    """Slack re-sends an event it thinks was missed (`X-Slack-Retry-Num`): answer each message only once.

    An event is dropped when its `event_id` or its message (channel, ts) was seen in the last hour, or when
    it is a retry because our ack was slow (`X-Slack-Retry-Reason: http_timeout`: the first delivery is
    being answered, maybe by another worker). Other retries of unseen events (say, after a restart) go on.
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


def is_direct_question(event: dict) -> bool:
    """A person's new message in a direct message with the bot (no bot posts, edits, joins, ...)."""
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and bool(event.get("user"))
        and bool((event.get("text") or "").strip())
    )


def ack_only(ack: Callable[..., Any]) -> None:
    ack()


# --- answering ---------------------------------------------------------------------------------------------------
def failure_text(exc: BaseException, where: str = "") -> str:
    """A short, safe message for the user; the detail goes to the log, never to Slack."""
    if isinstance(exc, InvalidQuestion):
        log.info("invalid question%s: %s", where, exc)
        message = str(exc) or "the question cannot be answered"
        return f":information_source: Sorry, {escape(message[0].lower() + message[1:])}."
    if isinstance(exc, EmptyIndex):
        log.error("no index to answer from%s: %s", where, exc)
        return NO_INDEX
    if isinstance(exc, RagError):
        log.error("the engine failed%s: %s: %s", where, type(exc).__name__, exc)
        return APOLOGY
    log.exception("answering failed%s", where, exc_info=exc)
    return APOLOGY


def record_of(answer: Answer) -> AnswerRecord:
    return AnswerRecord(
        question=answer.question,
        answer=answer.text,
        citations=[c.to_dict() for c in answer.citations],
        grounded=answer.grounded,
    )


def _mentions(text: str, bot_user_id: str | None) -> bool:
    if bot_user_id:
        return f"<@{bot_user_id}>" in text or f"<@{bot_user_id}|" in text
    return text.lstrip().startswith("<@")


def _ts(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def thread_history(
    client: WebClient,
    channel: str,
    thread_ts: str,
    before_ts: str,
    *,
    bot_user_id: str | None = None,
    bot_id: str | None = None,
    direct: bool = False,
) -> list[tuple[str, str]]:
    """(question, answer) pairs of the thread before `before_ts`: questions to the bot, each with our reply.

    In a channel a question is a message that mentions the bot; in a direct message every message is one.
    """
    try:
        response = client.conversations_replies(channel=channel, ts=thread_ts, limit=HISTORY_MESSAGES)
        messages: Sequence[Mapping[str, Any]] = response.get("messages") or []
    except Exception as exc:  # noqa: BLE001 - missing scope, deleted thread, network: answer without history
        log.warning(
            "could not read the thread %s in %s for context (%s: %s)", thread_ts, channel, type(exc).__name__, exc
        )
        return []
    turns: list[tuple[str, str]] = []
    pending: str | None = None
    cutoff = _ts(before_ts)
    for message in sorted(messages, key=lambda m: _ts(m.get("ts"))):
        if _ts(message.get("ts")) >= cutoff:
            break
        text = str(message.get("text") or "")
        ours = (bot_user_id and message.get("user") == bot_user_id) or (bot_id and message.get("bot_id") == bot_id)
        if ours:
            if pending:
                turns.append((pending, slack_to_plain(answer_only(text), bot_user_id)))
                pending = None
        elif message.get("bot_id") or message.get("subtype") not in (None, "thread_broadcast"):
            continue
        elif direct or _mentions(text, bot_user_id):
            question = slack_to_plain(text, bot_user_id)
            if question:
                pending = question
    return turns[-HISTORY_TURNS:]


def _react(client: WebClient, add: bool, channel: str, ts: str) -> None:
    try:
        if add:
            client.reactions_add(channel=channel, timestamp=ts, name=PROGRESS_REACTION)
        else:
            client.reactions_remove(channel=channel, timestamp=ts, name=PROGRESS_REACTION)
    except Exception as exc:  # noqa: BLE001 - already reacted, missing reactions:write: progress is only a nicety
        log.debug("could not %s the %s reaction: %s", "add" if add else "remove", PROGRESS_REACTION, exc)


def answer_event(
    event: Mapping[str, Any],
    client: WebClient,
    *,
    assistant: Any,
    answers: AnswerLog,
    bot_user_id: str | None = None,
    bot_id: str | None = None,
) -> None:
    """Answer a mention or a direct message in the question's thread, using the thread as history."""
    channel = event.get("channel")
    ts = event.get("ts")
    if not channel or not ts:
        log.warning("ignoring a %s event without channel or ts", event.get("type"))
        return
    thread_ts = event.get("thread_ts") or ts
    direct = event.get("channel_type") == "im"
    where = f" (channel {channel}, message {ts})"
    question = slack_to_plain(str(event.get("text") or ""), bot_user_id)
    _react(client, True, channel, ts)
    try:
        try:
            history: list[tuple[str, str]] = []
            if event.get("thread_ts") and event.get("thread_ts") != ts:
                history = thread_history(
                    client, channel, thread_ts, ts, bot_user_id=bot_user_id, bot_id=bot_id, direct=direct
                )
            answer = assistant.ask(question, history)
        except Exception as exc:  # noqa: BLE001
            text = failure_text(exc, where)
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=notice_blocks(text))
            return
        answer_id = answers.add(record_of(answer))
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=answer_fallback(answer),
            blocks=answer_blocks(answer, answer_id),
            unfurl_links=False,
            unfurl_media=False,
        )
        log.info("answered%s grounded=%s citations=%d", where, answer.grounded, len(answer.citations))
    except Exception as exc:  # noqa: BLE001 - posting failed (Slack error, network): nothing more we can tell the user
        log.error("could not post the reply%s: %s: %s", where, type(exc).__name__, exc)
    finally:
        _react(client, False, channel, ts)


def ack_command(ack: Callable[..., Any], command: Mapping[str, Any]) -> None:
    """Within 3 s: a usage hint for an empty `/ask`, else a private "looking it up" note."""
    if not slack_to_plain(str(command.get("text") or "")):
        ack(text=USAGE, response_type="ephemeral")
    else:
        ack(text=":mag: Looking that up…", response_type="ephemeral")


def answer_command(command: Mapping[str, Any], respond: Say, *, assistant: Any, answers: AnswerLog) -> None:
    """`/ask question`: the answer goes to the channel through the command's response_url."""
    question = slack_to_plain(str(command.get("text") or ""))
    if not question:
        return  # ack_command showed the usage hint
    where = f" (/ask in {command.get('channel_id')})"
    try:
        try:
            answer = assistant.ask(question)
        except Exception as exc:  # noqa: BLE001
            text = failure_text(exc, where)
            respond(text=text, blocks=notice_blocks(text), response_type="ephemeral", replace_original=False)
            return
        answer_id = answers.add(record_of(answer))
        asked = {
            "type": "context",
            "block_id": "question",
            "elements": [{"type": "mrkdwn", "text": f"*Question:* {escape(answer.question)}"}],
        }
        respond(
            text=answer_fallback(answer),
            blocks=[asked, *answer_blocks(answer, answer_id)],
            response_type="in_channel",
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        )
    except Exception as exc:  # noqa: BLE001
        log.error("could not respond%s: %s: %s", where, type(exc).__name__, exc)


def record_feedback(
    body: Mapping[str, Any], action: Mapping[str, Any], respond: Say | None, *, store: FeedbackStore, answers: AnswerLog
) -> None:
    """A helpful / not helpful click: one row in the FeedbackStore (channel "slack"), and a private thank-you."""
    rating = 1 if action.get("action_id") == HELPFUL else -1
    try:
        value = json.loads(action.get("value") or "{}")
        value = value if isinstance(value, dict) else {}
    except ValueError:
        value = {}
    user = str((body.get("user") or {}).get("id") or "")
    record = answers.get(value.get("id"))
    if record is None:  # posted before a restart: keep what the message itself still says
        message = body.get("message") or {}
        record = AnswerRecord(
            question=str(value.get("q") or ""), answer=slack_to_plain(answer_only(str(message.get("text") or "")))
        )
    if answers.first_vote(record, user, rating):
        try:
            store.add(
                Feedback(
                    rating=rating,
                    question=record.question,
                    answer=record.answer,
                    citations=list(record.citations),
                    channel="slack",
                )
            )
            reply = "Thanks for the feedback! :pray:"
        except Exception as exc:  # noqa: BLE001
            log.error("could not store Slack feedback: %s: %s", type(exc).__name__, exc)
            reply = ":warning: Sorry, your feedback could not be saved."
    else:
        reply = "Your feedback was already recorded. Thank you!"
    if respond is None:
        return
    try:
        respond(text=reply, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not thank for feedback: %s: %s", type(exc).__name__, exc)
