"""Slack front end: a Bolt app answering mentions, direct messages, `/ask` and feedback clicks.

    from rag.slack import build_app          # the Bolt App (HTTP or Socket Mode)
    from rag.slack.http import mount_slack   # POST /slack/events and /hooks/outgoing on a FastAPI app

Events already seen (Slack retries) and answers awaiting feedback live in `slack_state.sqlite3` beside the
index (rag.slack.state), shared by every process of the app. `python -m rag.slack` runs it over Socket Mode.
Set-up: slack/README.md.
"""

from .bot import build_app, drop_duplicate_events, register
from .format import answer_blocks, answer_fallback, answer_plain, escape, slack_to_plain
from .listeners.actions import record_feedback
from .listeners.commands import ack_command, answer_command
from .listeners.common import ack_only
from .listeners.events import answer_event, is_direct_question, thread_history
from .memory import AnswerLog, Answers, RecentKeys, SeenKeys
from .state import SlackState, slack_state_path

__all__ = [
    "AnswerLog",
    "Answers",
    "RecentKeys",
    "SeenKeys",
    "SlackState",
    "ack_command",
    "ack_only",
    "answer_blocks",
    "answer_command",
    "answer_event",
    "answer_fallback",
    "answer_plain",
    "build_app",
    "drop_duplicate_events",
    "escape",
    "is_direct_question",
    "record_feedback",
    "register",
    "slack_state_path",
    "slack_to_plain",
    "thread_history",
]
