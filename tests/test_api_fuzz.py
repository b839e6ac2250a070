"""Schemathesis fuzzes the real app from its own OpenAPI document: the real engine over the small index, served by
uvicorn on 127.0.0.1, once without an API key and once with one.

Each runs the `schemathesis run` command (every default check, all four phases: examples, coverage, fuzzing,
stateful) with the settings in bench/schemathesis.toml, a few examples per operation and a fixed seed, so that
a run is repeatable and takes seconds. The two runs go side by side. The same command by hand: bench/README.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Settings
from rag.server import create_app

from .servers import serve_app

pytestmark = [pytest.mark.slow, pytest.mark.server]

CONFIG = Path(__file__).resolve().parent.parent / "bench" / "schemathesis.toml"
KEY = "fuzz-key-8a41c6f2"
MAX_EXAMPLES = 3  # per operation and phase; the coverage phase adds its boundary cases (~450 requests a run)
SEED = 1


def start(url: str, workdir: Path, *extra: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG),
        "run", f"{url}/openapi.json",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1", "--request-timeout", "30",
        *extra,
    ]  # fmt: skip
    # cwd: schemathesis keeps its example database in the working directory
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def runs(small_index, assistant, tmp_path_factory) -> Iterator[dict[str, subprocess.Popen[str]]]:  # type: ignore[no-untyped-def]
    """Both runs started at once: against the whole app (the chat at "/" too, which must not catch a wrong method
    on an API path) without a key, and against the APIs alone with a key."""
    settings, _ = small_index
    assistant.warm_up()
    keyed = Settings(index_dir=settings.index_dir, api_key=KEY)
    with (
        serve_app(create_app(settings, assistant)) as open_url,
        serve_app(create_app(keyed, assistant, chat=False)) as keyed_url,
    ):
        started = {
            "open": start(open_url, tmp_path_factory.mktemp("fuzz-open")),
            # with the key; the `ignored_auth` check also sends each request without it and with a wrong one
            "keyed": start(
                keyed_url, tmp_path_factory.mktemp("fuzz-keyed"), "--header", f"Authorization: Bearer {KEY}"
            ),
        }
        try:
            yield started
        finally:
            for process in started.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()


def assert_passed(process: subprocess.Popen[str]) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts, output[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed and generated > 100, output[-3000:]  # every case passed, and there were many


def test_the_api_passes_schemathesis_without_a_key(runs: dict[str, subprocess.Popen[str]]) -> None:
    assert_passed(runs["open"])


def test_the_api_passes_schemathesis_with_a_key(runs: dict[str, subprocess.Popen[str]]) -> None:
    assert_passed(runs["keyed"])
