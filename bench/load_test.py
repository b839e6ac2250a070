"""Load on `app.py` over loopback: 32 concurrent clients x 20 questions, then the same while an ingest runs.

    .venv/bin/python bench/load_test.py [--clients 32] [--questions 20] [--index-dir DIR]

Copies the index (default: .rag-index, built from corpus/ if missing) to a temp folder, starts `python app.py`
on a free 127.0.0.1 port, and reports errors (must be 0), latency p50/p95/p99 and throughput. Phase two starts
`python -m ingest` on a folder of extra documents against the same index while the clients run.
Only 127.0.0.1 is contacted; request counts are bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from evaluation.servers import free_port

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "When was the AI law signed?",
    "What is Alem.ai?",
    "Was sagte Tokayev am 11. August 2025 über KI?",
    "What does the AI law say about labelling AI-generated content?",
    "Which GPUs does the national supercomputer use?",
    "How many people use Aitu?",
    "What is KazLLM?",
    "Give me a lasagna recipe",
    "What targets does the AI Concept 2024-2029 set?",
    "What is the Digital Code?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def run_clients(url: str, clients: int, per_client: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        with httpx.Client(timeout=120) as http:
            for i in range(per_client):
                question = QUESTIONS[(seed + i) % len(QUESTIONS)]
                started = time.perf_counter()
                try:
                    response = http.post(f"{url}/api/ask", json={"question": question})
                    ok = response.status_code == 200 and "answer" in response.json()
                    problem = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if problem:
                        errors.append(problem)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "p50_ms": round(percentile(latencies, 50)),
        "p95_ms": round(percentile(latencies, 95)),
        "p99_ms": round(percentile(latencies, 99)),
        "throughput_rps": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 1),
    }


def extra_documents(folder: Path, count: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"extra-{i:03d}.md").write_text(
            f"# Extra note {i}\n\nExtra note {i} says that regional office {i} of the digital ministry trained "
            f"{i * 10} officials in AI tools during 2025, with courses on data protection and eGov services.\n"
        )
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--questions", type=int, default=20, help="questions per client")
    parser.add_argument("--index-dir", type=Path, default=REPO / ".rag-index")
    args = parser.parse_args()
    env = dict(os.environ)  # app.py and ingest apply the offline defaults themselves
    if not (args.index_dir / "chroma").is_dir():
        subprocess.run([sys.executable, "-m", "ingest", "-q", "corpus/"], cwd=REPO, env=dict(env, RAG_INDEX_DIR=str(args.index_dir)), check=True)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(args.index_dir, index, ignore=shutil.ignore_patterns("ingest.lock"))
        env["RAG_INDEX_DIR"] = str(index)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"app.py did not start: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")
                time.sleep(0.5)
            quiet = run_clients(url, args.clients, args.questions)
            print("steady:", json.dumps(quiet))
            ingest = subprocess.Popen(
                [sys.executable, "-m", "ingest", "-q", str(extra_documents(Path(tmp) / "extra"))],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            during = run_clients(url, args.clients, args.questions)
            out, err = ingest.communicate(timeout=600)
            during["ingest_exit"] = ingest.returncode
            during["ingest_summary"] = out.strip().splitlines()[-1] if out.strip() else err.strip()[-300:]
            print("during ingest:", json.dumps(during))
            print(json.dumps({"steady": quiet, "during_ingest": during}))
            return 0 if quiet["errors"] == 0 and during["errors"] == 0 else 1
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
