"""Questions asked at once are embedded together (rag/batching.py), and a full server refuses at once with 503
and Retry-After rather than queueing without bound (rag/web/admission.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import openai
import pytest

from rag import Assistant
from rag.batching import MicroBatcher
from rag.query import QueryEncoder
from rag.server import create_app

from .servers import serve_app

QUESTIONS = [
    "When did the AI law take effect?",
    "Wer hat das Gesetz über künstliche Intelligenz unterzeichnet?",
    "Где запустили национальный суперкомпьютер?",
    "Which GPUs does the supercomputer use?",
    "What must AI-generated content carry?",
    "x",
]


def _wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_items_waiting_together_are_run_as_one_batch_and_each_caller_gets_its_row() -> None:
    calls: list[list[int]] = []
    first_running, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            first_running.set()
            release.wait(10)
        return [i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=8, max_wait_ms=0)
    with ThreadPoolExecutor(12) as pool:
        first = pool.submit(batcher.submit, 0)
        assert first_running.wait(10)
        rest = [pool.submit(batcher.submit, i) for i in range(1, 12)]  # queued while the first batch runs
        _wait_until(lambda: batcher._queue.qsize() == 11)
        release.set()
        assert first.result(10) == 0 and [f.result(10) for f in rest] == [i * 10 for i in range(1, 12)]
    assert calls[0] == [0]
    assert sorted(calls[1]) == calls[1] and len(calls[1]) == 8  # at most max_batch, in arrival order
    assert sorted(i for c in calls[2:] for i in c) == list(range(9, 12))
    assert batcher.batches == len(calls) and batcher.items == 12


def test_a_lone_caller_does_not_wait_for_company() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: items, max_batch=8, max_wait_ms=500)
    started = time.perf_counter()
    for i in range(5):
        assert batcher.submit(i) == i
    assert time.perf_counter() - started < 0.5  # 5 x 500 ms had it waited
    assert batcher.batches == 5


def test_an_idle_worker_ends_and_the_next_item_starts_another() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [i + 1 for i in items], idle_seconds=0.05)
    assert batcher.submit(1) == 2
    first = batcher._worker
    assert first is not None
    first.join(5)  # ends once idle: nothing (such as the models `run` holds) is kept alive by it
    assert not first.is_alive() and batcher._worker is None
    assert batcher.submit(2) == 3 and batcher._worker is not first


def test_a_failed_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    def run(items: list[str]) -> list[str]:
        if "bad" in items:
            raise ValueError("cannot embed 'bad'")
        return [s.upper() for s in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(run)
    with pytest.raises(ValueError, match="cannot embed"):
        batcher.submit("bad")
    assert batcher.submit("good") == "GOOD"
    wrong: MicroBatcher[str, str] = MicroBatcher(lambda items: [], name="short")
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        wrong.submit("a")
    with pytest.raises(ValueError):
        MicroBatcher(run, max_batch=0)


def test_batched_question_vectors_equal_one_at_a_time(assistant: Assistant) -> None:
    """The real models: vectors of questions embedded together in one call are those of each alone."""
    alone = QueryEncoder(assistant.embedder, assistant.multilingual)
    together = QueryEncoder(assistant.embedder, assistant.multilingual, max_batch=16, max_wait_ms=5, parallel=True)
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        batched = list(pool.map(together.encode, QUESTIONS * 3))
    assert together.batcher is not None and together.batcher.batches < len(QUESTIONS) * 3
    for question, query in zip(QUESTIONS * 3, batched):
        single = alone.encode(question)
        assert query.text == question and query.language == single.language
        np.testing.assert_allclose(query.dense, single.dense, atol=1e-5)
        np.testing.assert_allclose(query.multilingual, single.multilingual, atol=1e-5)


class HeldAssistant(Assistant):
    """The real engine, but each question first waits until the test lets it through."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.waiting = 0

    def _run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.waiting += 1
        self.gate.wait(30)
        yield from super()._run(*args, **kwargs)


def test_past_the_bound_questions_get_503_with_retry_after_in_each_apis_shape(small_index, embedder) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    settings = settings.model_copy(update={"max_concurrent_requests": 2})
    assistant = HeldAssistant(settings, embedder=embedder)
    app = create_app(settings, assistant, chat=False)
    with serve_app(app) as url, ThreadPoolExecutor(2) as pool:
        held = [pool.submit(httpx.post, f"{url}/api/ask", json={"question": "When did the AI law take effect?"}, timeout=60) for _ in range(2)]
        _wait_until(lambda: assistant.waiting == 2)

        refused = httpx.post(f"{url}/api/ask", json={"question": "When did the AI law take effect?"}, timeout=10)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "busy" and "try again" in refused.json()["detail"]
        assert httpx.post(f"{url}/api/search", json={"query": "AI law"}, timeout=10).status_code == 503
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="", messages=[{"role": "user", "content": "When did the AI law take effect?"}])
        assert caught.value.status_code == 503 and caught.value.body["code"] == "busy"  # type: ignore[index]
        assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200  # reads are never refused

        assistant.gate.set()
        assert all(f.result(60).status_code == 200 for f in held)
        after = httpx.post(f"{url}/api/ask", json={"question": "When did the AI law take effect?"}, timeout=60)
        assert after.status_code == 200 and after.json()["grounded"]  # the slots are given back
