"""The helpful / not-helpful buttons under an answer: stored as feedback with the answer's question and citations."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from slack_bolt import App

from ...feedback import Feedback, FeedbackStore
from ..format import FEEDBACK_ACTIONS, HELPFUL, answer_only, slack_to_plain
from ..logs import log
from ..memory import AnswerRecord, Answers
from .common import Say, ack_only


def record_feedback(
    body: Mapping[str, Any], action: Mapping[str, Any], respond: Say | None, *, store: FeedbackStore, answers: Answers
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
            question=str(value.get("q") or ""),
            answer=slack_to_plain(answer_only(str(message.get("text") or ""))),
            id=str(value.get("id") or ""),
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


def register(app: App, store: FeedbackStore, answers: Answers) -> None:
    """The feedback buttons: acknowledged at once, stored by a lazy listener."""

    def on_feedback(body: dict, action: dict, respond: Say) -> None:
        record_feedback(body, action, respond, store=store, answers=answers)

    app.action(re.compile("^(" + "|".join(FEEDBACK_ACTIONS) + ")$"))(ack=ack_only, lazy=[on_feedback])
