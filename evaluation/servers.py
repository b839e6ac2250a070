"""Real servers on 127.0.0.1 for tests and benchmarks (`chroma run`, xllamacpp's llama.cpp server, the app under
uvicorn), started and stopped by the with-block that uses them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: Sequence[str], ready_url: str, log_path: Path, timeout: float = 60, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run `command` until the with-block ends; enter (with the process) once `ready_url` answers 200 (or fail
    with its log)."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=None if env is None else dict(env), cwd=cwd)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command[:3])} did not start within {timeout:.0f} s")
                time.sleep(0.2)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def chroma_executable() -> str:
    candidate = Path(sys.executable).with_name("chroma")
    return str(candidate) if candidate.exists() else (shutil.which("chroma") or "chroma")


@contextmanager
def chroma_server(path: Path, timeout: float = 60) -> Iterator[str]:
    """A `chroma run` server storing its data in `path`; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [chroma_executable(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with running(command, f"{url}/api/v2/heartbeat", path.parent / f"chroma-{port}.log", timeout):
        yield url


@contextmanager
def serve_app(app: Any, timeout: float = 30) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread of this process (lifespan included); yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start under uvicorn")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
