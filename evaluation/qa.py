"""The dev question set through `Assistant.ask`: does the product find, state and cite the right fact?

Each line of the set is `{"id", "question", "lang", "answer", "source"}`: `answer` is a regular expression for
the expected fact (matched case-insensitively) or null when the corpus cannot answer the question; `source` is
the corpus file that holds the fact (or null).

Figures:
- recall@k: share of questions with a source whose file is among the top-k retrieved passages;
- answer_match: share of answerable questions whose answer text matches the fact regex (a refusal does not);
- citation_precision: share of the citations given to answerable questions whose quoted sentence contains the
  fact; citation_passage_precision: the same for the cited passage (chunk) around the quote;
- refusal_rate: share of unanswerable questions the product declines (higher is better);
- false_refusal_rate: share of answerable questions it declines (lower is better);
- latency p50/p95 of `ask` (ms, wall clock).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.settings import Settings

from .metrics import percentile


@dataclass(frozen=True)
class DevQuestion:
    id: str
    question: str
    lang: str = "en"
    answer: str | None = None  # regex of the expected fact; None: the corpus cannot answer
    source: str | None = None  # corpus file name holding the fact

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    def fact(self) -> re.Pattern[str]:
        return re.compile(self.answer or "(?!)", re.IGNORECASE)


def load_devset(path: str | Path) -> list[DevQuestion]:
    path = Path(path)
    items: list[DevQuestion] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the question set {path}: {exc.strerror or exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = DevQuestion(
                id=str(row.get("id") or f"line{n}"),
                question=str(row["question"]),
                lang=str(row.get("lang") or "en"),
                answer=row.get("answer") or None,
                source=row.get("source") or None,
            )
            item.fact()
        except (ValueError, KeyError, TypeError, re.error) as exc:
            raise ConfigError(f"{path}:{n}: not a question line ({type(exc).__name__}: {exc})") from exc
        items.append(item)
    return items


@dataclass
class QuestionResult:
    id: str
    question: str
    answerable: bool
    grounded: bool
    source_found: bool | None  # None: the question names no source
    answer_matches: bool | None  # None: unanswerable
    citations: int
    citations_with_fact: int
    passages_with_fact: int
    latency_ms: float
    answer: str
    retrieved: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def source_matches(retrieved: str, expected: str) -> bool:
    """A passage's source matches the expected file name when it is that file (in any folder)."""
    return retrieved == expected or retrieved.endswith(("/" + expected, "\\" + expected))


def check(item: DevQuestion, answer, passages: Sequence, latency_ms: float) -> QuestionResult:  # type: ignore[no-untyped-def]
    fact = item.fact()
    retrieved = [p.chunk.source for p in passages]
    found = None if item.source is None else any(source_matches(s, item.source) for s in retrieved)
    matches = bool(fact.search(answer.text)) if item.answerable and answer.grounded else (False if item.answerable else None)
    cited = answer.citations if item.answerable else ()
    result = QuestionResult(
        id=item.id,
        question=item.question,
        answerable=item.answerable,
        grounded=answer.grounded,
        source_found=found,
        answer_matches=matches,
        citations=len(cited),
        citations_with_fact=sum(bool(fact.search(c.quote)) for c in cited),
        passages_with_fact=sum(bool(fact.search(c.chunk.text)) for c in cited),
        latency_ms=latency_ms,
        answer=answer.text,
        retrieved=retrieved,
    )
    if found is False:
        result.problems.append(f"{item.source} not in the top {len(passages)}")
    if item.answerable and not answer.grounded:
        result.problems.append("declined an answerable question")
    elif matches is False:
        result.problems.append(f"answer lacks /{item.answer}/")
    if item.answerable and answer.grounded and result.citations_with_fact < result.citations:
        result.problems.append(f"{result.citations - result.citations_with_fact} of {result.citations} citations lack the fact")
    if not item.answerable and answer.grounded:
        result.problems.append("answered an unanswerable question")
    return result


def run_qa(items: Iterable[DevQuestion], assistant, k: int = 5, progress: bool = False) -> list[QuestionResult]:  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    assistant.warm_up()
    items = list(items)
    results = []
    for item in tqdm(items, unit="q", desc="questions", file=sys.stderr, disable=not progress, dynamic_ncols=True):
        started = time.perf_counter()
        answer = assistant.ask(item.question)
        latency = (time.perf_counter() - started) * 1000
        passages = assistant.retrieve(item.question, k=k)
        results.append(check(item, answer, passages, latency))
    return results


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise(results: Sequence[QuestionResult], k: int = 5) -> dict[str, Any]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    with_source = [r for r in results if r.source_found is not None]
    cited = sum(r.citations for r in answerable)
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        f"recall@{k}": _share([bool(r.source_found) for r in with_source]),
        "answer_match": _share([bool(r.answer_matches) for r in answerable]),
        "citation_precision": round(sum(r.citations_with_fact for r in answerable) / cited, 4) if cited else None,
        "citation_passage_precision": round(sum(r.passages_with_fact for r in answerable) / cited, 4) if cited else None,
        "refusal_rate": _share([not r.grounded for r in unanswerable]),
        "false_refusal_rate": _share([not r.grounded for r in answerable]),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p95_ms": round(percentile(latencies, 95), 1),
        "failing": [
            {"id": r.id, "question": r.question, "problems": r.problems, "answer": r.answer[:300]} for r in results if r.problems
        ],
    }


def evaluate_qa(  # type: ignore[no-untyped-def]
    path: str | Path, settings: Settings, *, embedder=None, k: int = 5, progress: bool = False, details: bool = False, fusion: str | None = None
) -> dict[str, Any]:
    """Run a question set against the index in `settings` and summarise it (`fusion`: as in evaluate_beir)."""
    from rag.assistant import Assistant

    if fusion:
        settings = settings.model_copy(update={"fusion": fusion})
    assistant = Assistant(settings, embedder=embedder)
    items = load_devset(path)
    results = run_qa(items, assistant, k, progress)
    report = {"set": str(path), "index_dir": str(settings.index_dir), **summarise(results, k)}
    if details:
        report["results"] = [asdict(r) for r in results]
    return report
