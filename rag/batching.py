"""Micro-batching: calls from many threads answered by one batched call.

Embedding 16 short questions in one model call costs far less than 16 calls (the matrix products are wider,
the per-call overhead is paid once). `MicroBatcher(run)` gives each caller `run([item])[0]`'s answer, but when
several callers wait at once, one worker thread hands `run` all of them together: up to `max_batch` items.
Under load, batches form by themselves while the previous one runs; and while the last batch held more than
one item (the sign of load) the worker also waits up to `max_wait_ms` for more once the first has arrived.
A lone caller never waits: it only pays the hand-over to the worker thread (~0.1 ms). The worker ends after
`idle_seconds` without work (and starts again on the next item), so an unused batcher, and what `run` holds,
can be garbage-collected.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """`submit(item)` -> `run([... item ...])`'s row for it, with concurrent items run as one batch."""

    def __init__(
        self,
        run: Callable[[list[Item]], Sequence[Result]],
        max_batch: int = 32,
        max_wait_ms: float = 2.0,
        name: str = "batcher",
        idle_seconds: float = 10.0,
    ) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be at least 1 and max_wait_ms at least 0")
        self._run = run
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]]] = queue.SimpleQueue()
        self._name = name
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0  # how many calls of `run` (for benchmarks and tests)
        self.items = 0
        self._loaded = False  # the last batch held more than one item
        self._idle = idle_seconds

    def submit(self, item: Item) -> Result:
        """`item`'s result; blocks the calling thread until its batch has run. Errors of `run` are raised here."""
        future: Future[Result] = Future()
        self._queue.put((item, future))  # before the worker check: a worker that is ending sees this item
        self._ensure_worker()
        return future.result()

    def _ensure_worker(self) -> None:
        if self._worker is None:
            with self._start_lock:
                if self._worker is None:  # a daemon: a process may exit with questions in flight
                    self._worker = threading.Thread(target=self._serve, name=self._name, daemon=True)
                    self._worker.start()

    def _serve(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._idle)
            except queue.Empty:
                with self._start_lock:
                    if self._queue.empty():  # else an item arrived meanwhile: serve it
                        self._worker = None
                        return
                continue
            batch = [first]
            deadline = time.monotonic() + (self._max_wait if self._loaded else 0.0)
            while len(batch) < self._max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._loaded = len(batch) > 1
            self._answer(batch)

    def _answer(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        try:
            results = self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets the error, the worker lives on
            log.debug("%s: a batch of %d failed: %s", self._name, len(batch), exc)
            for _, future in batch:
                future.set_exception(exc)
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results):
            future.set_result(result)
