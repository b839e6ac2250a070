"""Answers on SQuAD-format data (XQuAD and the like): same-language and cross-lingual, with refusal measured on
articles left out of the index.

    python -m rag eval qa ../shared/bench/xquad-dev --pairs en-en,de-de,de-en,ru-en,en-de

A folder holds one file per language (`*.en.json`, `*.de.json`, …, parallel: the same question id is the same
question). For a pair `Q-D`, the articles of the `D` file are the documents (one Markdown document per article,
its paragraphs as written, indexed by ingest's public `index_documents`) and the questions come from the `Q`
file; a question's gold answers are the `D` file's answers for its id (the quote a `D` document can give).

Every `absent_every`-th article is left out of the index: its questions must be declined. A question of an
indexed article counts as answered when the answer is grounded and contains a gold answer (case- and
whitespace-insensitive). `split` picks articles by position: every third article (index % 3 == 2) is the
"report" split that `bench/train_scorer.py` never trains or calibrates on; the others are "train".
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.errors import ConfigError
from rag.language import document_language
from rag.settings import Settings
from rag.types import Document

from .metrics import percentile

Split = Literal["all", "train", "report"]
REPORT_EVERY = 3  # articles with index % 3 == 2 form the report split
DEFAULT_PAIRS = ("en-en", "de-de", "de-en", "ru-en", "en-de")


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    article: int  # index of the article in the file
    paragraph: int


@dataclass(frozen=True)
class SquadArticle:
    index: int
    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[SquadQuestion, ...]


def load_squad(path: str | Path) -> list[SquadArticle]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        articles = []
        for a, article in enumerate(data):
            questions = tuple(
                SquadQuestion(str(q["id"]), str(q["question"]), tuple(str(x["text"]) for x in q["answers"]), a, p)
                for p, paragraph in enumerate(article["paragraphs"])
                for q in paragraph["qas"]
            )
            paragraphs = tuple(str(p["context"]) for p in article["paragraphs"])
            articles.append(SquadArticle(a, str(article.get("title") or f"article {a}"), paragraphs, questions))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not SQuAD-format JSON ({type(exc).__name__}: {exc})") from exc
    return articles


def squad_files(folder: str | Path) -> dict[str, Path]:
    """{language: file} for the `*.<lang>.json` files of a folder."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")):
        parts = path.name.split(".")
        if len(parts) >= 3 and re.fullmatch(r"[a-z]{2,3}", parts[-2]):
            found[parts[-2]] = path
    if not found:
        raise ConfigError(f"no SQuAD files named *.<language>.json in {folder}")
    return found


def in_split(index: int, split: Split) -> bool:
    if split == "all":
        return True
    return (index % REPORT_EVERY == REPORT_EVERY - 1) == (split == "report")


def absent(position: int, absent_every: int) -> bool:
    """Whether the article at this position (among the selected ones) is left out of the index."""
    return absent_every > 0 and position % absent_every == absent_every - 1


def article_document(article: SquadArticle, language: str, paragraphs: Sequence[int] | None = None) -> Document:
    """One Markdown-like document per article: a title heading, then its paragraphs as written."""
    title = article.title.replace("_", " ")
    keep = range(len(article.paragraphs)) if paragraphs is None else paragraphs
    body = "\n\n".join(article.paragraphs[p] for p in keep)
    slug = re.sub(r"[^\w-]+", "-", article.title).strip("-").lower()
    text = f"# {title}\n\n{body}"
    language = document_language(language if language != "xx" else None, text)
    return Document(source=f"{slug}.{language}.md", title=title, text=text, meta={"language": language, "title": title})


def index_articles(documents: Sequence[Document], settings: Settings, embedder, multilingual, cache_dir: Path) -> Settings:  # type: ignore[no-untyped-def]
    """Settings for an index holding exactly `documents` (built once under `cache_dir`, then reused)."""
    from ingest import index_documents

    key = hashlib.sha256(
        json.dumps([[d.source, d.text] for d in documents] + [embedder.name, multilingual.name, settings.chunk_words]).encode()
    ).hexdigest()[:16]
    target = settings.model_copy(update={"index_dir": cache_dir / f"squad-{key}", "collection": "squad_eval", "chroma_url": None})
    index_documents(documents, target, embedder, multilingual)
    return target


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def contains_gold(answer_text: str, gold: Sequence[str]) -> bool:
    text = normalise(answer_text)
    return any(normalise(g) and normalise(g) in text for g in gold)


def evaluate_pair(
    question_file: Path,
    document_file: Path,
    settings: Settings,
    *,
    languages: tuple[str, str],
    split: Split = "all",
    absent_every: int = 4,
    cache_dir: Path,
    embedder=None,  # type: ignore[no-untyped-def]
    multilingual=None,  # type: ignore[no-untyped-def]
    progress: bool = False,
) -> dict[str, Any]:
    """Index the document file's articles (minus the absent ones), ask the question file's questions."""
    from tqdm import tqdm

    from rag.assistant import Assistant
    from rag.embedder import SentenceTransformerEmbedder
    from rag.multilingual import build_multilingual

    embedder = embedder or SentenceTransformerEmbedder(settings)
    multilingual = multilingual or build_multilingual(settings)
    docs = [a for a in load_squad(document_file) if in_split(a.index, split)]
    gold = {q.id: q.answers for a in docs for q in a.questions}
    missing = {a.index for position, a in enumerate(docs) if absent(position, absent_every)}
    indexed = [article_document(a, languages[1]) for a in docs if a.index not in missing]
    target = index_articles(indexed, settings, embedder, multilingual, cache_dir)
    assistant = Assistant(target, embedder=embedder, multilingual=multilingual)
    assistant.warm_up()
    questions = [q for a in load_squad(question_file) if in_split(a.index, split) for q in a.questions if q.id in gold]
    rows = []
    for q in tqdm(questions, desc="-".join(languages), unit="q", file=sys.stderr, disable=not progress, dynamic_ncols=True):
        started = time.perf_counter()
        answer = assistant.ask(q.question)
        latency = (time.perf_counter() - started) * 1000
        answerable = q.article not in missing
        rows.append((q, answerable, answer.grounded, answer.grounded and contains_gold(answer.text, gold[q.id]), latency, answer.text))
    return summarise_pair(rows, languages, len(indexed), len(missing))


def summarise_pair(rows: Sequence[tuple], languages: tuple[str, str], indexed: int, missing: int) -> dict[str, Any]:  # type: ignore[type-arg]
    answerable = [r for r in rows if r[1]]
    unanswerable = [r for r in rows if not r[1]]

    def share(flags: list[bool]) -> float | None:
        return round(sum(flags) / len(flags), 4) if flags else None

    return {
        "pair": f"{languages[0]}-{languages[1]}",
        "articles_indexed": indexed,
        "articles_absent": missing,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answered": share([r[3] for r in answerable]),
        "false_refusals": share([not r[2] for r in answerable]),
        "wrong_answers": share([r[2] and not r[3] for r in answerable]),
        "refused_absent": share([not r[2] for r in unanswerable]),
        "latency_p50_ms": round(percentile([r[4] for r in rows], 50), 1) if rows else None,
        "failing": [
            {"id": r[0].id, "question": r[0].question, "problem": "declined" if not r[2] else "wrong answer", "answer": r[5][:200]}
            for r in answerable
            if not r[3]
        ]
        + [{"id": r[0].id, "question": r[0].question, "problem": "answered an absent article", "answer": r[5][:200]} for r in unanswerable if r[2]],
    }


def evaluate_squad(
    path: str | Path,
    settings: Settings,
    *,
    pairs: Sequence[str] | None = None,
    split: Split = "all",
    absent_every: int = 4,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    embedder=None,  # type: ignore[no-untyped-def]
    multilingual=None,  # type: ignore[no-untyped-def]
) -> dict[str, Any]:
    """Every language pair of a SQuAD folder (or one file: its own language on itself)."""
    from rag.embedder import SentenceTransformerEmbedder
    from rag.multilingual import build_multilingual

    from .beir import default_cache_dir

    path = Path(path)
    files = squad_files(path) if path.is_dir() else {"xx": path}
    wanted = list(pairs or (DEFAULT_PAIRS if path.is_dir() else ("xx-xx",)))
    for pair in wanted:
        q, _, d = pair.partition("-")
        if q not in files or d not in files:
            raise ConfigError(f"pair {pair!r}: no file for {q if q not in files else d!r} in {path} (have {', '.join(sorted(files))})")
    embedder = embedder or SentenceTransformerEmbedder(settings)
    multilingual = multilingual or build_multilingual(settings)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    results = []
    for pair in wanted:
        q, _, d = pair.partition("-")
        results.append(
            evaluate_pair(
                files[q], files[d], settings, languages=(q, d), split=split, absent_every=absent_every, cache_dir=cache,
                embedder=embedder, multilingual=multilingual, progress=progress,
            )
        )
    return {"set": str(path), "split": split, "absent_every": absent_every, "pairs": results}


def squad_to_beir(question_file: Path, document_file: Path, out: Path) -> Path:
    """A BEIR folder for retrieval on a language pair: each paragraph of the document file a document (titled
    with its article), each question of the question file a query, its own paragraph the one relevant
    document; qrels for the splits "all", "train" and "report" (one corpus for all three)."""
    docs = load_squad(document_file)
    where = {q.id: (a.index, f"{a.index}-{q.paragraph}") for a in docs for q in a.questions}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for a in docs:
            for p, text in enumerate(a.paragraphs):
                fh.write(json.dumps({"_id": f"{a.index}-{p}", "title": a.title.replace("_", " "), "text": text}, ensure_ascii=False) + "\n")
    questions = [q for a in load_squad(question_file) for q in a.questions if q.id in where]
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for q in questions:
            fh.write(json.dumps({"_id": q.id, "text": q.question}, ensure_ascii=False) + "\n")
    for split in ("all", "train", "report"):
        with (out / f"qrels-{split}.tsv").open("w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            for q in questions:
                article, paragraph = where[q.id]
                if in_split(article, split):  # type: ignore[arg-type]
                    fh.write(f"{q.id}\t{paragraph}\t1\n")
    return out
