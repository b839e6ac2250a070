"""What the listeners share: the immediate ack, the user-facing failure text and the record kept of an answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import EmptyIndex, InvalidQuestion, RagError
from ...types import Answer
from ..format import escape
from ..logs import log
from ..memory import AnswerRecord

APOLOGY = ":warning: Sorry, something went wrong while I was answering. Please try again in a moment."
NO_INDEX = ":warning: Sorry, I have no documents to search yet. An administrator needs to build the index first."

Say = Callable[..., Any]


def ack_only(ack: Callable[..., Any]) -> None:
    ack()


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
