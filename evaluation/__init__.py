"""Evaluation of the engine, as a user of it: ranking metrics, BEIR retrieval benchmarks, SQuAD/XQuAD answers and
the dev question set. It indexes through `ingest.index_documents` and asks through `rag.Assistant`; `rag` never
imports it (the `eval` subcommand is an entry point).

    python -m rag eval beir ../shared/bench/scifact --split test
    python -m rag eval qa eval/devset.jsonl
"""

from .metrics import evaluate, mrr_at_k, ndcg_at_k, percentile, recall_at_k

__all__ = ["evaluate", "mrr_at_k", "ndcg_at_k", "percentile", "recall_at_k"]
