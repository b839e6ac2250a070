"""REST latency of POST /api/ask (and the chat page's load time) against a real server on 127.0.0.1.

    .venv/bin/python bench/api_latency.py                 # the index in RAG_INDEX_DIR (default .rag-index)
    .venv/bin/python bench/api_latency.py --small         # builds a 4-document index of corpus/ files in a temp folder
    .venv/bin/python bench/api_latency.py --url http://127.0.0.1:7860   # a server that is already running

Starts uvicorn in a thread (unless --url), warms up, then sends --n questions one after another (a fixed mix
of English, German, follow-up and off-topic questions) and prints p50/p95/max of the wall time per request.
Only loopback traffic; the request count is bounded.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.settings import apply_process_defaults  # noqa: E402

apply_process_defaults()

import httpx

REPO = Path(__file__).resolve().parent.parent
SMALL_FILES = ("ai-law-2025.md", "supercomputers.md", "alem-ai-centre.md", "tokayev-ai-strategy-2025-08-11.de.txt")
QUESTIONS = [
    ("When was the AI law signed?", []),
    ("What is Alem.ai?", []),
    ("Was sagte Tokayev am 11. August 2025 über KI?", []),
    ("What does the AI law require for AI-generated content?", []),
    ("Which supercomputer does Kazakhstan have?", []),
    ("How many companies does Astana Hub host?", []),
    ("And when did it take effect?", [["When was the AI law signed?", "It was signed on 17 November 2025. [1]"]]),
    ("What is KazLLM?", []),
    ("Give me a lasagna recipe", []),
    ("Who approved the bill in October 2025?", []),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def start_server(index_dir: Path) -> tuple[str, object]:
    import uvicorn

    from rag import Assistant, Settings
    from rag.server import create_app

    settings = Settings(index_dir=index_dir)
    assistant = Assistant(settings)
    stats = assistant.stats()
    assistant.warm_up()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, assistant), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    print(
        f"index: {index_dir} ({stats['documents']} documents, {stats['chunks']} chunks), model {assistant.embedder.name}"
    )
    return f"http://127.0.0.1:{port}", server


def build_small_index(root: Path) -> Path:
    from ingest import Indexer
    from rag import Settings
    from rag.embedder import SentenceTransformerEmbedder
    settings = Settings(index_dir=root / "index")
    files = [str(REPO / "corpus" / name) for name in SMALL_FILES]
    Indexer(settings, SentenceTransformerEmbedder(settings)).run(files)
    return settings.index_dir


def page_load(url: str) -> float | None:
    """Seconds until the chat page is usable (question box visible) in headless Chromium, if it is installed."""
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        return None
    from playwright.sync_api import sync_playwright

    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-sync",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=args)
        times = []
        for _ in range(3):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(url + "/")
            page.wait_for_selector("#kz-question textarea", state="visible")
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="questions to send (default 50)")
    parser.add_argument("--url", help="base URL of a running server (default: start one here)")
    parser.add_argument("--index-dir", type=Path, help="index folder (default: RAG_INDEX_DIR or .rag-index)")
    parser.add_argument("--small", action="store_true", help="build and use a 4-document index of corpus/ files")
    parser.add_argument(
        "--api-key", default=os.environ.get("RAG_API_KEY"), help="X-API-Key to send, if the server needs one"
    )
    args = parser.parse_args()
    args.n = max(1, min(args.n, 1000))

    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        return run(args, Path(scratch))


def run(args: argparse.Namespace, scratch: Path) -> int:
    if args.url:
        url = args.url.rstrip("/")
    else:
        from rag import Settings

        index_dir = build_small_index(scratch) if args.small else (args.index_dir or Settings().index_dir)
        if not (Path(index_dir) / "chroma").is_dir():
            print(
                f"no index at {index_dir}: build it with `python -m ingest corpus/`, or pass --small", file=sys.stderr
            )
            return 2
        url, _ = start_server(Path(index_dir))

    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    latencies: list[float] = []
    server_ms: list[float] = []
    grounded = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        client.post("/api/ask", json={"question": "warm up: what is the AI law?"}).raise_for_status()
        for i in range(args.n):
            question, history = QUESTIONS[i % len(QUESTIONS)]
            started = time.perf_counter()
            response = client.post("/api/ask", json={"question": question, "history": history})
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            body = response.json()
            grounded += bool(body["grounded"])
            server_ms.append(body["timings_ms"].get("total", 0.0))

    print(f"POST /api/ask x{len(latencies)} (sequential, {grounded} grounded):")
    print(
        f"  wall   p50 {percentile(latencies, 50):7.1f} ms   p95 {percentile(latencies, 95):7.1f} ms   "
        f"max {max(latencies):7.1f} ms   mean {statistics.mean(latencies):7.1f} ms"
    )
    print(
        f"  engine p50 {percentile(server_ms, 50):7.1f} ms   p95 {percentile(server_ms, 95):7.1f} ms   (Answer.timings_ms['total'])"
    )
    load = page_load(url)
    if load is not None:
        print(f"chat page ready (question box visible, median of 3 loads): {load * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
