"""The Slack bot's memory shared through SQLite beside the index: retries deduplicated across processes and
restarts, and feedback clicks on answers posted before a restart (or by another process) keep their citations.

Real SQLite files in temp folders, real processes (spawned), and the real Bolt app behind signed requests with
the fake Slack Web API of tests/test_slack.py.
"""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.errors import ConfigError
from rag.feedback import FeedbackStore, feedback_path
from rag.slack import SlackState, drop_duplicate_events, record_feedback, slack_state_path
from rag.slack.format import HELPFUL, NOT_HELPFUL, answer_blocks
from rag.slack.http import mount_slack
from rag.slack.memory import AnswerRecord
from rag.types import Answer
from tests import slack_workers
from tests.test_slack import (  # noqa: F401 - fake_slack, slack_settings and no_secrets_leak are fixtures
    Recorder,
    _click,
    block,
    fake_slack,
    mention,
    new_ts,
    no_secrets_leak,
    reply_to,
    send_event,
    slack_settings,
)

pytestmark = pytest.mark.server

LAW = {"n": 1, "title": "Kazakhstan's law on artificial intelligence", "url": "https://example.org/law"}


class Request:
    def __init__(self, headers: dict[str, list[str]] | None = None) -> None:
        self.headers, self.lazy_only = headers or {}, False


def buttons(answer_id: str, question: str = "When was the AI law signed?") -> tuple[dict[str, Any], dict[str, Any]]:
    """The helpful / not helpful buttons posted under an answer with this id."""
    answer = Answer(text="On 17 November 2025. [1]", citations=(), grounded=True, question=question)
    helpful, not_helpful = block(answer_blocks(answer, answer_id), "feedback")["elements"]
    assert (helpful["action_id"], not_helpful["action_id"]) == (HELPFUL, NOT_HELPFUL)
    return helpful, not_helpful


def click(button: dict[str, Any], user: str, state: SlackState, store: FeedbackStore) -> str:
    respond = Recorder()
    body = {"user": {"id": user}, "message": {"text": "On 17 November 2025. *[1]*\n\nSources:\n[1] Law"}}
    record_feedback(body, button, respond, store=store, answers=state.answers)
    return str(respond.calls[0]["text"])


# --- seen events ---------------------------------------------------------------------------------------------------
def test_an_event_seen_by_one_process_is_a_duplicate_for_another(tmp_path: Path) -> None:
    path = slack_state_path(tmp_path / "index")
    one, two = SlackState(path), SlackState(path)  # two processes serving the same Slack app
    assert one.seen.add("event:Ev1", "message:C1:1.1")
    assert not two.seen.add("event:Ev1", "message:C1:1.1")
    assert not two.seen.add("event:Ev2", "message:C1:1.1")  # the same message delivered as another event
    assert two.seen.add("event:Ev3") and not one.seen.add("event:Ev3")
    assert "event:Ev1" in two.seen and len(one.seen) == 4

    # Through the middleware: a retry after an error (not a slow ack) that lands on the other process is dropped.
    passed: list[int] = []
    body = {"type": "event_callback", "event_id": "Ev9", "event": {"type": "app_mention", "channel": "C1", "ts": "9.9"}}
    assert drop_duplicate_events(body, Request(), lambda: passed.append(1), seen=one.seen) is None
    retry = Request({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_error"]})
    dropped = drop_duplicate_events(body, retry, lambda: passed.append(2), seen=SlackState(path).seen)  # a restart
    assert passed == [1] and dropped.status == 200 and dropped.headers["x-slack-no-retry"] == ["1"]


def test_processes_racing_on_the_same_events_answer_each_once(tmp_path: Path) -> None:
    path = slack_state_path(tmp_path / "index")
    keys = [f"Ev{i:03d}" for i in range(50)]
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(4), ctx.Queue()
    workers = [
        ctx.Process(target=slack_workers.race_for_keys, args=(str(path), keys, start, results)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        won = [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    winners = sorted(key for keys_won in won for key in keys_won)
    assert winners == keys, f"each key must win exactly once; per process: {[len(w) for w in won]}"
    assert len(SlackState(path).seen) == 100  # event and message keys, all kept


def test_seen_events_expire_and_stay_bounded(tmp_path: Path) -> None:
    now = [1000.0]
    state = SlackState(tmp_path / "state.sqlite3", seen_ttl=60, clock=lambda: now[0])
    assert state.seen.add("a") and not state.seen.add("a")
    now[0] += 61
    assert "a" not in state.seen and state.seen.add("a")  # forgotten after the TTL
    state.seen.max_size, state.seen.trim_every = 3, 1
    for key in "bcde":
        now[0] += 1
        state.seen.add(key)
    assert len(state.seen) == 3 and "b" not in state.seen and "e" in state.seen
    with sqlite3.connect(state.path) as db:
        assert db.execute("SELECT count(*) FROM seen").fetchone() == (3,)  # the rows are gone, not only hidden


# --- answers and feedback -----------------------------------------------------------------------------------------
def test_feedback_after_a_restart_keeps_question_and_citations(tmp_path: Path) -> None:
    path, store = slack_state_path(tmp_path / "index"), FeedbackStore(feedback_path(tmp_path / "index"))
    record = AnswerRecord(question="When was the AI law signed?", answer="On 17 November 2025. [1]", citations=[LAW])
    answer_id = SlackState(path).answers.add(record)
    assert record.id == answer_id
    helpful, not_helpful = buttons(answer_id)

    restarted = SlackState(path)  # the first object (and its process) is gone
    assert "Thanks" in click(helpful, "U1", restarted, store)
    (row,) = store.rows()
    assert (row["rating"], row["question"], row["answer"], row["citations"]) == (
        1,
        "When was the AI law signed?",
        "On 17 November 2025. [1]",
        [LAW],
    )
    assert "already recorded" in click(helpful, "U1", restarted, store)  # a double click
    assert "already recorded" in click(helpful, "U1", SlackState(path), store)  # ...landing on another process
    assert "Thanks" in click(not_helpful, "U1", SlackState(path), store)  # changing one's mind is a new vote
    assert "Thanks" in click(helpful, "U2", SlackState(path), store)
    assert [(r["rating"], r["citations"]) for r in store.rows()] == [(1, [LAW]), (-1, [LAW]), (1, [LAW])]


def test_an_answer_kept_by_another_process_is_found(tmp_path: Path) -> None:
    path, store = slack_state_path(tmp_path / "index"), FeedbackStore(tmp_path / "fb.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    worker = ctx.Process(target=slack_workers.record_answer, args=(str(path), results))
    worker.start()
    answer_id = results.get(timeout=120)
    worker.join(timeout=60)
    assert worker.exitcode == 0
    record = SlackState(path).answers.get(answer_id)
    assert record is not None and record.id == answer_id and record.citations == [LAW] and record.grounded
    assert "Thanks" in click(buttons(answer_id)[0], "U1", SlackState(path), store)
    (row,) = store.rows()
    assert row["question"] == "When was the AI law signed?" and row["citations"] == [LAW]


def test_old_answers_expire_but_double_clicks_still_count_once(tmp_path: Path) -> None:
    now = [1000.0]
    state = SlackState(tmp_path / "state.sqlite3", answer_max_age=3600, clock=lambda: now[0])
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    answer_id = state.answers.add(AnswerRecord(question="Q?", answer="A.", citations=[LAW]))
    now[0] += 3601
    assert state.answers.get(answer_id) is None
    state.answers.add(AnswerRecord(question="Q2?", answer="A2."))  # a write clears the expired rows
    with sqlite3.connect(state.path) as db:
        assert db.execute("SELECT count(*) FROM answers").fetchone() == (1,)
    helpful, _ = buttons(answer_id, question="Q?")
    assert "Thanks" in click(helpful, "U1", state, store)  # stored from what the message still says
    assert "already recorded" in click(helpful, "U1", SlackState(state.path), store)
    (row,) = store.rows()
    assert row["question"] == "Q?" and row["citations"] == []

    state.answers.max_size, state.answers.trim_every = 2, 1
    for n in range(4):
        state.answers.add(AnswerRecord(question=f"q{n}", answer="a"))
    with sqlite3.connect(state.path) as db:
        assert db.execute("SELECT question FROM answers ORDER BY created").fetchall() == [("q2",), ("q3",)]


# --- failures --------------------------------------------------------------------------------------------------------
def test_a_state_file_that_cannot_be_opened_says_how_to_fix_it(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cannot open the Slack state store .*RAG_INDEX_DIR"):
        SlackState(slack_state_path(tmp_path / "index"))
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="delete the file if it is damaged"):
        SlackState(damaged)


def test_a_failing_state_file_logs_and_carries_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = SlackState(tmp_path / "state.sqlite3")
    with sqlite3.connect(state.path) as db:
        db.execute("DROP TABLE seen")
        db.execute("DROP TABLE answers")
        db.execute("DROP TABLE votes")
    caplog.set_level(logging.ERROR)
    assert state.seen.add("event:Ev1") and state.seen.add("event:Ev1")  # answer twice rather than never
    answer_id = state.answers.add(AnswerRecord(question="Q?", answer="A."))
    assert answer_id and state.answers.get(answer_id) is None
    assert state.answers.first_vote(AnswerRecord(question="Q?", answer="A.", id=answer_id), "U1", 1)
    assert "could not remember Slack event ids" in caplog.text and str(state.path) in caplog.text
    assert "no such table" in caplog.text


# --- the real Bolt app ----------------------------------------------------------------------------------------------
def test_restarted_app_drops_retries_and_keeps_feedback_citations(fake_slack, slack_settings, assistant) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    first = FastAPI()
    assert mount_slack(first, assistant, slack_settings) is not None
    assert slack_state_path(slack_settings.index_dir).is_file()  # the default: beside the index
    http = TestClient(first)
    ts = new_ts()
    event = mention("When was the AI law signed?", ts)
    send_event(http, event, event_id="EvRESTART1")
    reply = reply_to(fake_slack, ts)
    helpful, _ = block(reply.params["blocks"], "feedback")["elements"]

    # A restart (or the second process behind the load balancer): a new app, a new state object, the same file.
    second = FastAPI()
    mount_slack(second, assistant, slack_settings)
    restarted = TestClient(second)
    retry = send_event(
        restarted,
        event,
        event_id="EvRESTART1",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"},
    )
    assert retry.status_code == 200 and retry.headers.get("x-slack-no-retry") == "1"

    store = FeedbackStore(feedback_path(slack_settings.index_dir))
    before = len(list(store.rows()))
    assert _click(restarted, fake_slack, helpful, "restart1").status_code == 200
    (thanks,) = fake_slack.wait_for("response:restart1")
    assert "Thanks" in thanks.params["text"]
    (row,) = list(store.rows())[before:]
    assert row["question"] == "When was the AI law signed?" and "17 November 2025" in row["answer"]
    assert row["citations"] and row["citations"][0]["title"] == "Kazakhstan's law on artificial intelligence"

    _click(http, fake_slack, helpful, "restart2")  # the same click again, on the other process
    (again,) = fake_slack.wait_for("response:restart2")
    assert "already recorded" in again.params["text"]
    assert len(list(store.rows())[before:]) == 1
    time.sleep(0.3)
    assert len(fake_slack.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") == ts)) == 1
