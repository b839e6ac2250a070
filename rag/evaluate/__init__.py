"""Evaluation of the engine: ranking metrics, BEIR retrieval benchmarks and the dev question set.

    python -m rag eval beir ../shared/bench/scifact --split test
    python -m rag eval qa eval/devset.jsonl
"""

from .metrics import evaluate, mrr_at_k, ndcg_at_k, percentile, recall_at_k

__all__ = ["evaluate", "mrr_at_k", "ndcg_at_k", "percentile", "recall_at_k"]
