"""Ingest survives `kill -9` at any point, refuses to run twice at once, and never breaks queries meanwhile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest import Indexer
from rag import Assistant
from rag.settings import Settings
from rag.store import VectorStore

from .conftest import AI_LAW, GERMAN, SUPERCOMPUTER, write_corpus

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def many_documents(folder: Path, count: int = 24) -> Path:
    files = {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER, "de.txt": GERMAN}
    for i in range(count):
        files[f"note-{i:02d}.md"] = (
            f"# Note {i}\n\nNote {i} records that Kazakhstan's digital ministry reviewed project number {i} in 2025. "
            f"The review of project {i} covered data centres, eGov services and AI training for {i * 100} civil servants.\n"
        )
    return write_corpus(folder, files)


def _env(index: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, RAG_INDEX_DIR=str(index), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _start_ingest(folder: Path, index: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", str(folder)],
        cwd=REPO,
        env=_env(index, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_commits(process: subprocess.Popen, commits: int, timeout: float = 240) -> None:
    """Read the ingest's log until it has committed `commits` files (it logs one line per committed file)."""
    deadline = time.monotonic() + timeout
    seen = 0
    assert process.stderr is not None
    while seen < commits:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"ingest ended before {commits} commits (exit {process.wait()})")
        seen += "committed" in line
        if time.monotonic() > deadline:
            raise AssertionError("ingest too slow")


def _snapshot(settings: Settings) -> tuple[dict, set[str], set[str]]:
    stats = Assistant(settings).stats()
    store = VectorStore(settings, "all-MiniLM-L6-v2")
    ids = {i for i, _, _ in store.iter_records(include_documents=False)}
    lexical = set(Assistant(settings).retriever.lexical().ids)
    return stats, ids, lexical


def _side_ids(settings: Settings) -> tuple[set[str], set[str]]:
    """The multilingual chunk vectors' ids and the sentence vectors' ids."""
    store = VectorStore(settings, "all-MiniLM-L6-v2")
    return store.multilingual.ids(), store.sentences.ids()


@pytest.fixture(scope="module")
def clean_ingest(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    """(documents folder, settings of a clean ingest of it): what each interrupted run must end up equal to."""
    root = tmp_path_factory.mktemp("clean-ingest")
    folder = many_documents(root / "docs")
    settings = Settings(index_dir=root / "clean")
    assert Indexer(settings, embedder).run([str(folder)]).ok
    return folder, settings


@pytest.mark.parametrize("commits_before_kill", [1, 9])
def test_kill_9_mid_ingest_then_rerun_equals_a_clean_ingest(tmp_path, embedder, clean_ingest, commits_before_kill):
    folder, clean_settings = clean_ingest
    crashed = tmp_path / "crashed"
    process = _start_ingest(folder, crashed, RAG_INGEST_BATCH_CHUNKS="2")
    try:
        _wait_for_commits(process, commits_before_kill)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    rerun = Indexer(Settings(index_dir=crashed), embedder).run([str(folder)])
    assert rerun.ok

    crashed_stats, crashed_ids, crashed_lexical = _snapshot(Settings(index_dir=crashed))
    clean_stats, clean_ids, clean_lexical = _snapshot(clean_settings)
    assert crashed_stats == clean_stats == {"documents": 27, "chunks": len(clean_ids)}
    assert crashed_ids == clean_ids
    assert crashed_lexical == crashed_ids == clean_lexical  # no orphans or gaps in the BM25 index
    # the side collections match too: one multilingual vector per chunk, the same sentence vectors
    crashed_side, clean_side = _side_ids(Settings(index_dir=crashed)), _side_ids(clean_settings)
    assert crashed_side == clean_side and crashed_side[0] == clean_ids
    assert {s.rsplit(":", 1)[0] for s in crashed_side[1]} == clean_ids
    # every stored file is complete: one content hash, all of its chunks
    assert all(f.complete for f in VectorStore(Settings(index_dir=crashed), "all-MiniLM-L6-v2").files().values())

    stats_cli = subprocess.run(
        [sys.executable, "-m", "rag", "stats", "--json"], cwd=REPO, env=_env(crashed), capture_output=True, text=True, timeout=120
    )
    assert json.loads(stats_cli.stdout) == clean_stats


def test_a_second_ingest_process_is_refused_while_the_first_runs(tmp_path):
    folder = many_documents(tmp_path / "docs")
    index = tmp_path / "index"
    first = _start_ingest(folder, index, RAG_INGEST_BATCH_CHUNKS="2")
    try:
        _wait_for_commits(first, 1)
        second = subprocess.run(
            [sys.executable, "-m", "ingest", str(folder)], cwd=REPO, env=_env(index), capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 2
        assert "another ingest is writing" in second.stderr
    finally:
        first.communicate(timeout=300)
    assert first.returncode == 0


def test_queries_keep_working_while_an_ingest_changes_the_index(tmp_path, embedder):
    folder = many_documents(tmp_path / "docs", count=4)
    settings = Settings(index_dir=tmp_path / "index")
    Indexer(settings, embedder).run([str(folder)])
    assistant = Assistant(settings, embedder=embedder)
    errors: list[BaseException] = []
    answers: list[bool] = []
    stop = threading.Event()

    def ask_repeatedly() -> None:
        while not stop.is_set():
            try:
                answers.append(assistant.ask("When was the AI law signed?").grounded)
            except BaseException as exc:  # noqa: BLE001 - any error is a failure
                errors.append(exc)
                return

    worker = threading.Thread(target=ask_repeatedly)
    worker.start()
    try:
        many_documents(folder, count=12)  # 8 new files
        (folder / "computers.md").unlink()
        (folder / "ai-law.md").write_text(AI_LAW.replace("on 17 November 2025", "in Astana on 17 November 2025"), encoding="utf-8")
        process = _start_ingest(folder, settings.index_dir, RAG_INGEST_BATCH_CHUNKS="2")
        process.communicate(timeout=300)
        assert process.returncode == 0
        time.sleep(1.2)  # let the reader notice the new generation
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors, errors
    assert answers and all(answers)
    assert "in Astana on 17 November 2025" in assistant.ask("When was the AI law signed?").text
