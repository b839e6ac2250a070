"""Thumbs up/down on answers, kept in SQLite beside the index and exportable as JSON lines."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidQuestion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    channel TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class Feedback:
    rating: int  # +1 helpful, -1 not helpful
    question: str
    answer: str
    citations: Sequence[dict[str, Any]] = ()
    channel: str = "web"  # web, api, slack
    comment: str = ""


class FeedbackStore:
    """One SQLite file; safe to use from several threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def add(self, feedback: Feedback) -> int:
        if feedback.rating not in (-1, 1):
            raise InvalidQuestion("rating must be 1 (helpful) or -1 (not helpful)")
        with self._lock, self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created, rating, question, answer, citations, channel, comment) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    feedback.rating,
                    feedback.question,
                    feedback.answer,
                    json.dumps(list(feedback.citations), ensure_ascii=False),
                    feedback.channel,
                    feedback.comment[:2000],
                ),
            )
            return int(cursor.lastrowid or 0)

    def rows(self) -> Iterator[dict[str, Any]]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            for row in db.execute("SELECT * FROM feedback ORDER BY id"):
                item = dict(row)
                item["citations"] = json.loads(item["citations"])
                yield item

    def export(self, out: Path) -> int:
        count = 0
        with open(out, "w", encoding="utf-8") as handle:
            for row in self.rows():
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        return count


def feedback_path(index_dir: Path) -> Path:
    return Path(index_dir) / "feedback.sqlite3"
