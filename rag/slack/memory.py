"""Small bounded in-process memories: events already seen (retry dedupe) and answers awaiting feedback.

`SeenKeys` and `Answers` are the interfaces the listeners use; `RecentKeys` and `AnswerLog` here keep them in
this process only (tests, a single Socket Mode process). `rag.slack.state` keeps them in SQLite beside the index,
shared by every process of the app and kept across restarts: the default of `build_app` / `register`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class SeenKeys(Protocol):
    def add(self, *keys: str) -> bool:
        """Remember `keys`; True if none of them was seen before (the caller should go ahead)."""
        ...


class Answers(Protocol):
    def add(self, record: AnswerRecord) -> str:
        """Keep `record`; its new id (also set as `record.id`)."""
        ...

    def get(self, answer_id: str | None) -> AnswerRecord | None: ...

    def first_vote(self, record: AnswerRecord, user: str, rating: int) -> bool:
        """True the first time `user` gives `rating` to this answer (a double click is stored once)."""
        ...


class RecentKeys:
    """A set of keys that forgets them after `ttl` seconds and never holds more than `max_size`."""

    def __init__(
        self, ttl: float = 3600.0, max_size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._seen:
            _key, stamp = next(iter(self._seen.items()))
            if now - stamp < self.ttl and len(self._seen) <= self.max_size:
                break
            self._seen.popitem(last=False)

    def add(self, *keys: str) -> bool:
        """Remember `keys`; True if none of them was seen before (the caller should go ahead)."""
        keys = tuple(k for k in keys if k)
        with self._lock:
            now = self._clock()
            self._expire(now)
            fresh = not any(k in self._seen for k in keys)
            for key in keys:
                self._seen[key] = now
                self._seen.move_to_end(key)
            self._expire(now)
            return fresh

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return key in self._seen

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


def new_answer_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class AnswerRecord:
    question: str
    answer: str
    citations: Sequence[dict[str, Any]] = ()
    grounded: bool = True
    votes: set[tuple[str, int]] = field(default_factory=set)
    id: str = ""  # set when the record is kept; the id in the feedback buttons


class AnswerLog:
    """The last `max_size` answers posted, by id, so a feedback click can store the full question and citations."""

    def __init__(self, max_size: int = 2000) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, AnswerRecord] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, record: AnswerRecord) -> str:
        answer_id = new_answer_id()
        record.id = answer_id
        with self._lock:
            self._items[answer_id] = record
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)
        return answer_id

    def get(self, answer_id: str | None) -> AnswerRecord | None:
        with self._lock:
            return self._items.get(answer_id or "")

    def first_vote(self, record: AnswerRecord, user: str, rating: int) -> bool:
        """True the first time `user` gives `rating` to this answer (a double click is stored once)."""
        with self._lock:
            if (user, rating) in record.votes:
                return False
            record.votes.add((user, rating))
            return True
