"""Mentions of the bot and direct messages: answered in the thread, earlier thread messages as the conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from ..format import answer_blocks, answer_fallback, answer_only, notice_blocks, slack_to_plain
from ..logs import log
from ..memory import Answers
from .common import ack_only, failure_text, record_of

PROGRESS_REACTION = "eyes"
HISTORY_TURNS = 8
HISTORY_MESSAGES = 200


def is_direct_question(event: dict) -> bool:
    """A person's new message in a direct message with the bot (no bot posts, edits, joins, ...)."""
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and bool(event.get("user"))
        and bool((event.get("text") or "").strip())
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
    answers: Answers,
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


def register(app: App, assistant: Any, answers: Answers) -> None:
    """Mentions and direct messages: acknowledged at once, answered by a lazy listener; other messages ignored."""

    def on_event(event: dict, client: WebClient, context: Any) -> None:
        answer_event(
            event, client, assistant=assistant, answers=answers, bot_user_id=context.bot_user_id, bot_id=context.bot_id
        )

    app.event("app_mention")(ack=ack_only, lazy=[on_event])
    app.event({"type": "message", "subtype": None}, matchers=[is_direct_question])(ack=ack_only, lazy=[on_event])
    app.event("message")(ack_only)  # everything else (edits, bot posts, channel chatter): acknowledged, ignored
