"""`/ask question`: acknowledged at once (or answered with usage help), answered in the channel by a lazy listener."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App

from ..format import answer_blocks, answer_fallback, escape, notice_blocks, slack_to_plain
from ..logs import log
from ..memory import Answers
from .common import Say, failure_text, record_of

USAGE = "Ask me about Kazakhstan's AI strategy, for example `/ask When was the AI law signed?`"


def ack_command(ack: Callable[..., Any], command: Mapping[str, Any]) -> None:
    """Within 3 s: a usage hint for an empty `/ask`, else a private "looking it up" note."""
    if not slack_to_plain(str(command.get("text") or "")):
        ack(text=USAGE, response_type="ephemeral")
    else:
        ack(text=":mag: Looking that up…", response_type="ephemeral")


def answer_command(command: Mapping[str, Any], respond: Say, *, assistant: Any, answers: Answers) -> None:
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


def register(app: App, assistant: Any, answers: Answers) -> None:
    """`/ask`: acknowledged (or answered with usage help) at once, answered by a lazy listener."""

    def on_command(command: dict, respond: Say) -> None:
        answer_command(command, respond, assistant=assistant, answers=answers)

    app.command("/ask")(ack=ack_command, lazy=[on_command])
