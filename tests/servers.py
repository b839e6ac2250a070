"""The real servers the tests start (`chroma run`, the LLM server, the app under uvicorn): evaluation/servers.py,
shared with the benchmarks in bench/."""

from evaluation.servers import chroma_executable, chroma_server, free_port, running, serve_app

__all__ = ["chroma_executable", "chroma_server", "free_port", "running", "serve_app"]
