"""Upload jobs: files checked, saved and ingested one job at a time by a background thread, while the app answers.

Files are saved under `<index_dir>/uploads/.incoming/<job>/<n>/<name>` first and move to `<index_dir>/uploads/`
only once their document is committed, so a failed upload leaves nothing behind and never replaces the file of
a document that is still indexed. The chat sees a committed document on its next question: every commit changes
the store's generation, which the retriever checks (rag/retrieve.py).

Uploads(settings, ingester, catalog).submit([(name, stream, size), ...]) -> JobStatus (queued)
Uploads(...).job(job_id)                                                -> JobStatus, updated as it runs
Uploads(...).remove(document_id)                                        -> (DocumentEntry, chunks removed)
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Literal

from .catalog import Catalog, DocumentEntry, document_id
from .errors import RagError
from .settings import Settings
from .uploads import FileOutcome, Incoming, Ingester, Result, Stage, UploadsOff, check_upload

log = logging.getLogger(__name__)

KEPT_JOBS = 200  # finished jobs stay readable until this many newer ones exist


class UnknownJob(RagError):
    """No upload job has this id (or it is too old to be kept)."""


@dataclass(frozen=True)
class FileStatus:
    """One file of a job: where it stands, and why when it failed."""

    name: str  # as sent
    saved_as: str  # the safe name: its source in the index
    stage: Stage
    result: Result | None = None
    detail: str = ""
    note: str | None = None  # e.g. the name was changed
    source: str | None = None
    document_id: str | None = None


@dataclass(frozen=True)
class JobStatus:
    id: str
    state: Literal["queued", "running", "finished"]
    created: str
    files: tuple[FileStatus, ...]
    finished: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state,
            "created": self.created,
            "finished": self.finished,
            "files": [asdict(f) for f in self.files],
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def uploads_folder(settings: Settings) -> Path:
    return settings.index_dir / "uploads"


class Uploads:
    """Upload jobs and deletions over one index; a single worker thread runs the jobs in order. Thread-safe."""

    def __init__(self, settings: Settings, ingester: Ingester | None, catalog: Catalog) -> None:
        self.settings = settings
        self.ingester = ingester
        self.catalog = catalog
        self.folder = uploads_folder(settings)
        self._jobs: OrderedDict[str, JobStatus] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None

    @property
    def suffixes(self) -> tuple[str, ...]:
        return tuple(self.ingester.suffixes) if self.ingester else ()

    def check_writable(self) -> Ingester:
        """The ingester, or `UploadsOff` saying why documents cannot be changed here and how to allow it."""
        if self.settings.read_only:
            raise UploadsOff(
                "this server is read-only (RAG_READ_ONLY=true): documents cannot be uploaded or deleted here; "
                "unset RAG_READ_ONLY to allow it, or change the index with `python -m ingest`",
                403,
            )
        if self.ingester is None:
            raise UploadsOff(
                "uploads are not enabled on this server: start it with `python app.py`, which gives it an ingester "
                "(create_app(..., ingester=FileIngester(settings))), or add documents with `python -m ingest PATH`",
                503,
            )
        return self.ingester

    # --- uploads ---------------------------------------------------------------------------------------------
    def submit(self, files: Sequence[tuple[str, BinaryIO, int]]) -> JobStatus:
        """Check every file (nothing is written when one is refused), save them, and queue one job for them."""
        ingester = self.check_writable()
        names = check_upload([Incoming(name, size) for name, _, size in files], ingester.suffixes, self.settings)
        job_id = uuid.uuid4().hex[:16]
        staging = self._staging(job_id)
        statuses = []
        try:
            for i, ((name, stream, _), safe) in enumerate(zip(files, names)):
                target = staging / str(i) / safe.name
                target.parent.mkdir(parents=True)
                with target.open("wb") as out:
                    shutil.copyfileobj(stream, out, 1024 * 1024)
                statuses.append(FileStatus(name=name, saved_as=safe.name, stage="queued", note=safe.note))
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise RagError(f"could not save the upload under {self.folder} ({exc.strerror or exc}): check the disk") from exc
        job = JobStatus(id=job_id, state="queued", created=_now(), files=tuple(statuses))
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > KEPT_JOBS:
                self._jobs.popitem(last=False)
            self._start_worker()
        self._queue.put(job_id)
        log.info("upload job %s queued: %d files", job_id, len(statuses))
        return job

    def job(self, job_id: str) -> JobStatus:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no upload job {job_id!r}: use the id POST /api/documents returned (recent jobs only)")
        return job

    def wait(self, job_id: str, timeout: float = 300) -> JobStatus:
        """The job once finished (for scripts and tests); `TimeoutError` after `timeout` seconds."""
        import time

        deadline = time.monotonic() + timeout
        while (job := self.job(job_id)).state != "finished":
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload job {job_id} still {job.state} after {timeout:g} s")
            time.sleep(0.05)
        return job

    def _staging(self, job_id: str) -> Path:
        return self.folder / ".incoming" / job_id

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="rag-uploads", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                self._run(job_id)
            except Exception:  # the worker must outlive any one job
                log.exception("upload job %s failed", job_id)
                self._finish_all(job_id, "unexpected error while ingesting: see the server's log")

    def _update(self, job_id: str, i: int | None = None, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            if i is None:
                self._jobs[job_id] = replace(job, **changes)  # type: ignore[arg-type]
            else:
                files = list(job.files)
                files[i] = replace(files[i], **changes)  # type: ignore[arg-type]
                self._jobs[job_id] = replace(job, files=tuple(files))

    def _run(self, job_id: str) -> None:
        ingester = self.ingester
        assert ingester is not None
        self._update(job_id, state="running")
        staging = self._staging(job_id)
        for i, status in enumerate(self.job(job_id).files):
            path = staging / str(i) / status.saved_as
            self._update(job_id, i, stage="reading")
            try:
                outcome = ingester.ingest_file(path, lambda stage, i=i: self._update(job_id, i, stage=stage))
            except Exception as exc:
                log.exception("ingesting %s failed", status.saved_as)
                outcome = FileOutcome("failed", "failed", f"unexpected {type(exc).__name__} while ingesting: {exc}")
            if outcome.result in ("added", "updated"):
                self.folder.mkdir(parents=True, exist_ok=True)
                path.replace(self.folder / status.saved_as)  # the file of an indexed document, kept beside the index
            source = outcome.source
            self._update(
                job_id, i, stage=outcome.stage, result=outcome.result, detail=outcome.detail, source=source,
                document_id=document_id(source) if source else None,
            )
            log.info("upload %s: %s (%s)", status.saved_as, outcome.result, outcome.detail)
        shutil.rmtree(staging, ignore_errors=True)
        self.catalog.forget()
        try:  # list the new documents now, so that the next GET /api/documents does not wait for it
            self.catalog.entries()
        except RagError as exc:
            log.warning("could not list the documents after upload %s: %s", job_id, exc)
        self._update(job_id, state="finished", finished=_now())

    def _finish_all(self, job_id: str, reason: str) -> None:
        for i, status in enumerate(self.job(job_id).files):
            if status.stage not in ("done", "failed"):
                self._update(job_id, i, stage="failed", result="failed", detail=reason)
        shutil.rmtree(self._staging(job_id), ignore_errors=True)
        self._update(job_id, state="finished", finished=_now())

    # --- deletion --------------------------------------------------------------------------------------------
    def remove(self, doc_id: str) -> tuple[DocumentEntry, int]:
        """Remove one document everywhere (index and uploads folder); waits for a running job to commit first."""
        ingester = self.check_writable()
        entry = self.catalog.find(doc_id)
        removed = ingester.remove(entry.source)
        kept = self.folder / entry.source
        if "/" not in entry.source and "\\" not in entry.source and kept.is_file():
            kept.unlink()
        self.catalog.forget()
        log.info("removed %s (%d passages)", entry.source, removed)
        return entry, removed
