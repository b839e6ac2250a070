"""Helpers shared by the bench scripts: paths, settings with a device, peak memory, timing."""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rag.settings import apply_process_defaults  # noqa: E402

apply_process_defaults()  # every bench script is an entry point


def default_data() -> Path:
    """SciFact: shared/ next to the repo (CI's layout) or inside it."""
    for candidate in (REPO.parent / "shared" / "bench" / "scifact", REPO / "shared" / "bench" / "scifact"):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "bench" / "scifact"


def add_corpus_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    """The options the latency and baseline scripts share: device, question count, corpus, dev set, SciFact."""
    repo = Path(__file__).resolve().parent.parent
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"))
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--corpus", default=str(repo / "corpus"))
    parser.add_argument("--devset", default=str(repo / "eval" / "devset.jsonl"))
    parser.add_argument("--data", default=str(default_data()), help="BEIR SciFact folder")
    parser.add_argument("--cache-dir", default=None, help="evaluation cache (default ~/.cache/kz-ai-rag/eval)")


def results_dir() -> Path:
    path = REPO / "bench" / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings_for(device: str, **overrides: Any):  # type: ignore[no-untyped-def]
    from rag.settings import Settings

    return Settings(embedding_device=device, **overrides)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (the 2 cores are shared: figures are read beside them)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    import platform

    import torch

    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            # The 2 cores are shared with other work: the 1-minute load average says how busy they were.
            "load_average_1m": load_average()[0]}


def save(name: str, data: dict[str, Any]) -> Path:
    path = results_dir() / name
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def set_threads(n: int | None) -> int:
    """Torch intra-op threads for this process (None: leave torch's default); returns the number in force."""
    import torch

    if n:
        torch.set_num_threads(n)
    return torch.get_num_threads()
