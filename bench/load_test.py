"""Load on `app.py` over loopback: one client alone, then 32 concurrent clients x 20 questions, then the same
while an ingest writes; and with `--two-apps`, the same against two app processes sharing one `chroma run` server.

    .venv/bin/python bench/load_test.py [--clients 32] [--questions 20] [--single 60] [--two-apps] [--index-dir DIR]

Copies the index (default: .rag-index, built from corpus/ if missing) to a temp folder, starts `python app.py`
on a free 127.0.0.1 port, and reports for each phase errors (must be 0), latency p50/p95/p99 and throughput;
`speedup` is the concurrent throughput over the single client's, measured in the same run. Each phase also
reports the CPU a request cost the app processes and this load generator (from /proc), and the concurrent phase
the compute ceiling that implies: `ceiling_rps` = cores / CPU per request, `ceiling_speedup` = that over the lone
client's throughput (what no scheduling can beat on this machine at that cost per request). `--two-apps` ingests
corpus/ into a fresh `chroma run` server, starts two app.py processes on it (one index folder for the BM25 cache
and Slack state), points the clients at both in turn, and runs an ingest into the server meanwhile.
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
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import load_average
from evaluation.servers import chroma_server, free_port, running

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


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time (user + system, all threads) the processes `pids` have used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat(5))
    return total


def run_clients(urls: str | Sequence[str], clients: int, per_client: int, servers: Sequence[int] = ()) -> dict:
    """`clients` threads, each asking `per_client` questions in turn (client n talks to urls[n % len(urls)]).

    With `servers` (the app processes' pids), also the CPU each request cost the servers and this load generator,
    and the share of the machine's cores both kept busy."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        url = urls[seed % len(urls)]
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

    server_cpu, client_cpu = cpu_seconds(servers), time.process_time()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(servers) - server_cpu, time.process_time() - client_cpu
    cpu = {}
    if servers and latencies:
        cpu = {
            "server_cpu_ms_per_request": round(server_cpu * 1000 / len(latencies), 1),
            "client_cpu_ms_per_request": round(client_cpu * 1000 / len(latencies), 1),
            "cores_busy": round((server_cpu + client_cpu) / wall, 2),
        }
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "p50_ms": round(percentile(latencies, 50)),
        "p95_ms": round(percentile(latencies, 95)),
        "p99_ms": round(percentile(latencies, 99)),
        "throughput_rps": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 1),
        **cpu,
    }


def extra_documents(folder: Path, count: int = 40, prefix: str = "extra") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}-{i:03d}.md").write_text(
            f"# Extra note {i}\n\nExtra note {i} says that regional office {i} of the digital ministry trained "
            f"{i * 10} officials in AI tools during 2025, with courses on data protection and eGov services.\n"
        )
    return folder


@contextmanager
def app_process(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`python app.py` on a free port with `env`; yields its URL and pid once /api/health answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "app.py", "--port", str(port), "--log-level", "warning"], f"{url}/api/health", log, 180, env, REPO) as process:
        yield url, process.pid


def start_ingest(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", "-q", str(folder)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_ingest(process: subprocess.Popen, phase: dict) -> None:
    out, err = process.communicate(timeout=600)
    phase["ingest_exit"] = process.returncode
    phase["ingest_summary"] = out.strip().splitlines()[-1] if out.strip() else err.strip()[-300:]


def load_phases(apps: list[tuple[str, int]], args: argparse.Namespace, ingest_env: dict[str, str], extra: Path) -> dict:
    urls, pids = [url for url, _ in apps], [pid for _, pid in apps]
    single = run_clients(urls[0], 1, args.single, pids[:1])
    print("single client:", json.dumps(single), flush=True)
    steady = run_clients(urls, args.clients, args.questions, pids)
    steady["speedup"] = round(steady["throughput_rps"] / single["throughput_rps"], 2)
    steady.update(ceiling(steady, single))
    print(f"{args.clients} clients:", json.dumps(steady), flush=True)
    ingest = start_ingest(extra, ingest_env)
    during = run_clients(urls, args.clients, args.questions, pids)
    finish_ingest(ingest, during)
    print(f"{args.clients} clients during an ingest:", json.dumps(during), flush=True)
    return {"single": single, "steady": steady, "during_ingest": during}


def ceiling(steady: dict, single: dict) -> dict:
    """What the machine's cores allow: if every core did nothing but serve and load requests at the CPU cost each
    request had under this load, `ceiling_rps` requests/s; over the lone client's throughput, the largest speedup
    any scheduling could reach here (the lone client already keeps `single["cores_busy"]` cores busy). With
    `--two-apps` the chroma server's own CPU is not counted, so that ceiling is if anything too high."""
    per_request = steady["server_cpu_ms_per_request"] + steady["client_cpu_ms_per_request"]
    rps = (os.cpu_count() or 1) * 1000 / per_request
    return {"ceiling_rps": round(rps, 1), "ceiling_speedup": round(rps / single["throughput_rps"], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--questions", type=int, default=20, help="questions per client")
    parser.add_argument("--single", type=int, default=60, help="questions the lone client asks first")
    parser.add_argument("--two-apps", action="store_true", help="also two app processes on one chroma server")
    parser.add_argument("--index-dir", type=Path, default=REPO / ".rag-index")
    args = parser.parse_args()
    env = dict(os.environ)  # app.py and ingest apply the offline defaults themselves
    if not (args.index_dir / "chroma").is_dir():
        subprocess.run([sys.executable, "-m", "ingest", "-q", "corpus/"], cwd=REPO, env=dict(env, RAG_INDEX_DIR=str(args.index_dir)), check=True)
    # Every process shares the index's ONNX export instead of exporting its own copy.
    env.setdefault("RAG_MODEL_CACHE_DIR", str(args.index_dir / "models"))
    report: dict = {"load_average_before": load_average()}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        index = tmp / "index"
        shutil.copytree(args.index_dir, index, ignore=shutil.ignore_patterns("ingest.lock", "models"))
        one = dict(env, RAG_INDEX_DIR=str(index))
        with app_process(one, tmp / "app.log") as app:
            report["one_app"] = load_phases([app], args, one, extra_documents(tmp / "extra"))
        if args.two_apps:
            with ExitStack() as stack:
                chroma_url = stack.enter_context(chroma_server(tmp / "chroma-data"))
                shared = dict(env, RAG_INDEX_DIR=str(tmp / "shared-index"), RAG_CHROMA_URL=chroma_url)
                subprocess.run([sys.executable, "-m", "ingest", "-q", "corpus/"], cwd=REPO, env=shared, check=True, capture_output=True)
                apps = [stack.enter_context(app_process(shared, tmp / f"app-{n}.log")) for n in range(2)]
                report["two_apps_one_chroma"] = load_phases(apps, args, shared, extra_documents(tmp / "extra-2", prefix="more"))
    report["load_average_after"] = load_average()
    print(json.dumps(report))
    phases = [p for setup in report.values() if isinstance(setup, dict) for p in setup.values()]
    ok = all(p["errors"] == 0 and p.get("ingest_exit", 0) == 0 for p in phases)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
