"""Work for the processes that tests/test_slack_state.py starts (spawned: a small module keeps their start-up short)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def race_for_keys(path: str, keys: list[str], start: Any, results: Any) -> None:
    """Open the Slack state at `path` as a new process would, wait for the others, then add every key."""
    from rag.slack.state import SlackState

    state = SlackState(Path(path))
    start.wait(timeout=60)
    results.put([key for key in keys if state.seen.add(f"event:{key}", f"message:C1:{key}")])


def record_answer(path: str, results: Any) -> None:
    """Keep one answer, as the process that posted it would, and report its id."""
    from rag.slack.memory import AnswerRecord
    from rag.slack.state import SlackState

    citation = {"n": 1, "title": "Kazakhstan's law on artificial intelligence", "url": "https://example.org/law"}
    record = AnswerRecord(
        question="When was the AI law signed?", answer="On 17 November 2025. [1]", citations=[citation]
    )
    results.put(SlackState(Path(path)).answers.add(record))
