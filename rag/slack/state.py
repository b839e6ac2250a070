"""The Slack bot's memory in SQLite beside the index: events already seen and answers awaiting feedback.

    state = SlackState(slack_state_path(settings.index_dir))
    register(app, assistant, store, answers=state.answers, seen=state.seen)   # build_app's default

Unlike `rag.slack.memory`, this is shared by every process serving the same Slack app (behind a load balancer,
or a restart): a Slack retry that lands on another process is still dropped, and a click on an answer posted
before a restart still stores its question and citations. Every call opens its own short-lived connection
(timeout 10 s, WAL journal), so the objects are safe to share between threads and processes. "Insert if absent"
runs in one write transaction (BEGIN IMMEDIATE) on a PRIMARY KEY: two processes racing on one event id get
exactly one True.

The tables stay small: seen keys expire after `ttl` (1 hour), answers and votes after `max_age` (30 days); the
expired rows go on each write (an indexed delete) and each table is cut to `max_size` rows every
`trim_every` writes. If the file fails mid-run (disk full, locked for over 10 s) the error is logged and the bot
carries on without it (it may answer a retry twice, but never drops a question).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from ..errors import ConfigError
from .logs import log
from .memory import AnswerRecord, new_answer_id

STATE_FILE = "slack_state.sqlite3"
SEEN_TTL = 3600.0  # Slack retries an event within minutes
ANSWER_MAX_AGE = 30 * 86400.0  # feedback buttons of older answers fall back to the message text

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, stamp REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS seen_stamp ON seen (stamp)",
    """CREATE TABLE IF NOT EXISTS answers (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        citations TEXT NOT NULL,
        grounded INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS answers_created ON answers (created)",
    """CREATE TABLE IF NOT EXISTS votes (
        answer_id TEXT NOT NULL,
        user TEXT NOT NULL,
        rating INTEGER NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (answer_id, user, rating)
    )""",
    "CREATE INDEX IF NOT EXISTS votes_created ON votes (created)",
)


def slack_state_path(index_dir: Path) -> Path:
    return Path(index_dir) / STATE_FILE


class _StateFile:
    """One SQLite file holding the three tables; opened (and created) at start-up, where errors are fatal."""

    trim_every = 64  # writes between two cuts to max_size (a cut walks max_size index entries; expiry is cheap)

    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._writes = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._set_wal()
            with self._write() as db:
                for statement in _SCHEMA:
                    db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the Slack state store {self.path} ({type(exc).__name__}: {exc}): make the index "
                "directory (RAG_INDEX_DIR) writable by the bot, or delete the file if it is damaged; it only holds "
                "recent event ids and answers, and is re-created empty"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def _set_wal(self) -> None:
        # Changing the journal mode takes an exclusive lock that several processes starting together may race
        # for (busy_timeout does not always apply to it): retry briefly. WAL is then a property of the file.
        deadline = time.monotonic() + 10
        while True:
            db = self._connect()
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
            finally:
                db.close()
            time.sleep(0.05)

    def _read(self) -> closing[sqlite3.Connection]:
        return closing(self._connect())

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the file's write lock from the start (so read-then-insert is atomic)."""
        with self._lock:
            db = self._connect()
            try:
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()

    def _trim_due(self) -> bool:
        """True every `trim_every` writes of this object (the first one included)."""
        self._writes += 1
        return self.trim_every <= 1 or self._writes % self.trim_every == 1

    @staticmethod
    def _cut(db: sqlite3.Connection, table: str, order: str, keep: int) -> None:
        """Keep the `keep` newest rows of `table` (by `order`, which is indexed)."""
        db.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} ORDER BY {order} DESC LIMIT -1 OFFSET ?)",
            (keep,),
        )

    def _failed(self, what: str, exc: Exception) -> None:
        log.error(
            "could not %s in the Slack state store %s (%s: %s); carrying on without it. Check that the disk is "
            "not full and the file is writable; deleting it only forgets recent event ids and answers",
            what,
            self.path,
            type(exc).__name__,
            exc,
        )


class SqliteRecentKeys(_StateFile):
    """`RecentKeys` shared through SQLite: keys forgotten after `ttl` seconds, at most about `max_size` kept."""

    def __init__(
        self,
        path: Path,
        ttl: float = SEEN_TTL,
        max_size: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(path, clock)
        self.ttl = ttl
        self.max_size = max_size

    def add(self, *keys: str) -> bool:
        """Remember `keys`; True if none of them was seen before by any process (the caller should go ahead)."""
        keys = tuple(dict.fromkeys(k for k in keys if k))
        if not keys:
            return True
        now = self._clock()
        try:
            with self._write() as db:
                db.execute("DELETE FROM seen WHERE stamp <= ?", (now - self.ttl,))
                marks = ",".join("?" * len(keys))
                (found,) = db.execute(f"SELECT count(*) FROM seen WHERE key IN ({marks})", keys).fetchone()
                db.executemany("INSERT OR REPLACE INTO seen (key, stamp) VALUES (?, ?)", [(k, now) for k in keys])
                if self._trim_due():
                    self._cut(db, "seen", "stamp", self.max_size)
        except sqlite3.Error as exc:
            self._failed("remember Slack event ids (a retry may be answered twice)", exc)
            return True
        return found == 0

    def __contains__(self, key: object) -> bool:
        with self._read() as db:
            row = db.execute(
                "SELECT 1 FROM seen WHERE key = ? AND stamp > ?", (str(key), self._clock() - self.ttl)
            ).fetchone()
        return row is not None

    def __len__(self) -> int:
        with self._read() as db:
            (count,) = db.execute("SELECT count(*) FROM seen WHERE stamp > ?", (self._clock() - self.ttl,)).fetchone()
        return int(count)


class SqliteAnswerLog(_StateFile):
    """`AnswerLog` shared through SQLite: answers (and votes on them) kept `max_age` seconds, about `max_size`."""

    def __init__(
        self,
        path: Path,
        max_age: float = ANSWER_MAX_AGE,
        max_size: int = 50_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(path, clock)
        self.max_age = max_age
        self.max_size = max_size

    def add(self, record: AnswerRecord) -> str:
        """Keep `record` for its feedback buttons; its id (also set as `record.id`), even if it could not be kept."""
        answer_id = new_answer_id()
        record.id = answer_id
        now = self._clock()
        try:
            with self._write() as db:
                db.execute("DELETE FROM answers WHERE created <= ?", (now - self.max_age,))
                db.execute("DELETE FROM votes WHERE created <= ?", (now - self.max_age,))
                db.execute(
                    "INSERT INTO answers (id, created, question, answer, citations, grounded)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        answer_id,
                        now,
                        record.question,
                        record.answer,
                        json.dumps(list(record.citations), ensure_ascii=False),
                        int(record.grounded),
                    ),
                )
                if self._trim_due():
                    self._cut(db, "answers", "created", self.max_size)
                    self._cut(db, "votes", "created", self.max_size * 4)
        except (sqlite3.Error, TypeError, ValueError) as exc:
            self._failed("keep an answer for its feedback buttons", exc)
        return answer_id

    def get(self, answer_id: str | None) -> AnswerRecord | None:
        if not answer_id:
            return None
        try:
            with self._read() as db:
                row = db.execute(
                    "SELECT question, answer, citations, grounded FROM answers WHERE id = ? AND created > ?",
                    (str(answer_id), self._clock() - self.max_age),
                ).fetchone()
            if row is None:
                return None
            citations = json.loads(row[2])
        except (sqlite3.Error, ValueError) as exc:
            self._failed(f"read the answer {answer_id}", exc)
            return None
        return AnswerRecord(
            question=row[0], answer=row[1], citations=citations, grounded=bool(row[3]), id=str(answer_id)
        )

    def first_vote(self, record: AnswerRecord | str, user: str, rating: int) -> bool:
        """True the first time `user` gives `rating` to this answer, whichever process saw the earlier click.

        An answer is known by its id, or (a record without one) by its question and answer text."""
        if isinstance(record, str):
            key = record
        else:
            key = record.id or "text:" + hashlib.sha256(f"{record.question}\0{record.answer}".encode()).hexdigest()
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO votes (answer_id, user, rating, created) VALUES (?, ?, ?, ?)",
                    (key, str(user), int(rating), self._clock()),
                )
                first = cursor.rowcount == 1
        except sqlite3.Error as exc:
            self._failed("check for a repeated feedback click", exc)
            return True
        if first and not isinstance(record, str):
            record.votes.add((user, rating))
        return first


class SlackState:
    """Both memories in one file: `seen` (event ids, retry dedupe) and `answers` (answers awaiting feedback)."""

    def __init__(
        self,
        path: Path,
        *,
        seen_ttl: float = SEEN_TTL,
        answer_max_age: float = ANSWER_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.seen = SqliteRecentKeys(self.path, ttl=seen_ttl, clock=clock)
        self.answers = SqliteAnswerLog(self.path, max_age=answer_max_age, clock=clock)
