"""Training data for the sentence scorer, gathered through the product: every candidate sentence's features
(`Assistant.evidence`, with no scorer yet) and whether it holds the answer."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.beir import default_cache_dir
from evaluation.qa import load_devset
from evaluation.squad import article_document, contains_gold, in_split, index_articles, load_squad, squad_files
from rag.answering import EvidenceStep
from rag.answering.features import FEATURES
from rag.assistant import Assistant
from rag.embedder import SentenceTransformerEmbedder
from rag.multilingual import build_multilingual
from rag.settings import Settings

PAIRS = ("en-en", "de-de", "de-en", "ru-en", "en-de")
# Indexes per document language, each leaving out a different quarter of the articles: 12 of the 16 train
# articles indexed, near the 18 of 24 that `eval qa` indexes (refusal gets harder as an index grows).
INDEX_FOLDS = 4
PARAGRAPH_GAP = 5  # and every fifth paragraph of the articles it keeps


@dataclass
class Run:
    """One question asked against one index."""

    source: str  # "xquad" or "corpus"
    pair: str  # question-document languages, or "corpus-<lang>"
    group: str  # article or corpus file: cross-validation never splits a group
    qid: str
    answerable: bool
    kind: str  # answerable, absent_article, absent_paragraph, not_in_corpus
    question: str
    numeric: bool  # the gold answer holds a number
    vector: np.ndarray  # the question's multilingual vector
    rows: np.ndarray  # candidate sentences x FEATURES
    labels: np.ndarray  # candidate holds the answer
    has_number: np.ndarray  # candidate holds a number the question does not
    model: str  # the multilingual model
    texts: list[str]  # the candidate sentences
    context: list[tuple[int, int, int]]  # per candidate: (passage index, start, end) in that passage's text
    passages: list[tuple[str, str, str]]  # (title, text, language) of each retrieved passage


def _run(assistant: Assistant, question: str, matches, **fields) -> Run:  # type: ignore[no-untyped-def]
    evidence = assistant.evidence(question)
    rows = np.array([c.features for c in evidence.candidates], dtype=np.float32).reshape(-1, len(FEATURES))
    labels = np.array([bool(matches(c.text)) for c in evidence.candidates], dtype=bool)
    # Gathered with p_numeric = 0.5 (no scorer yet): numeric_match = 0.5 * has_number.
    has_number = rows[:, FEATURES.index("numeric_match")] * 2 if len(rows) else np.zeros(0, dtype=np.float32)
    vector = assistant.multilingual.embed_query(question)
    index = {p.chunk.id: n for n, p in enumerate(evidence.passages)}
    context = [(index[c.passage.chunk.id], c.start - c.passage.chunk.start, c.end - c.passage.chunk.start) for c in evidence.candidates]
    passages = [(p.chunk.title, p.chunk.text, str(p.chunk.meta.get("language") or "")) for p in evidence.passages]
    return Run(
        rows=rows, labels=labels, has_number=has_number, vector=vector, model=assistant.multilingual.name, question=question,
        texts=[c.text for c in evidence.candidates], context=context, passages=passages, **fields,
    )


def _assistant(settings: Settings, embedder, multilingual) -> Assistant:  # type: ignore[no-untyped-def]
    assistant = Assistant(settings, embedder=embedder, multilingual=multilingual)
    assistant.evidence_step = EvidenceStep(None, multilingual)
    return assistant


def _has_digit(answers) -> bool:  # type: ignore[no-untyped-def]
    return any(re.search(r"\d", a) for a in answers)


def gather_xquad(folder: Path, cache_dir: str | None) -> list[Run]:
    from tqdm import tqdm

    settings = Settings(torch_threads=1)
    embedder, multilingual = SentenceTransformerEmbedder(settings), build_multilingual(settings)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(os.environ)
    files = squad_files(folder)
    articles = {lang: [a for a in load_squad(path) if in_split(a.index, "train")] for lang, path in files.items()}
    english = {q.id: q.answers for a in articles["en"] for q in a.questions}
    runs: list[Run] = []
    for fold in range(INDEX_FOLDS):
        for pair in PAIRS:
            q_lang, _, d_lang = pair.partition("-")
            docs = articles[d_lang]
            absent = {a.index for position, a in enumerate(docs) if position % INDEX_FOLDS == fold}
            kept = {a.index: [p for p in range(len(a.paragraphs)) if (p + a.index + fold) % PARAGRAPH_GAP] for a in docs}
            documents = [article_document(a, d_lang, kept[a.index]) for a in docs if a.index not in absent]
            assistant = _assistant(index_articles(documents, settings, embedder, multilingual, cache), embedder, multilingual)
            gold = {q.id: q.answers for a in docs for q in a.questions}
            questions = [q for a in articles[q_lang] for q in a.questions if q.id in gold]
            for q in tqdm(questions, desc=f"xquad fold {fold} {pair}", unit="q", file=sys.stderr, dynamic_ncols=True):
                answerable = q.article not in absent and q.paragraph in kept[q.article]
                kind = "answerable" if answerable else "absent_article" if q.article in absent else "absent_paragraph"
                runs.append(
                    _run(
                        assistant, q.question, lambda text, g=gold[q.id]: contains_gold(text, g),
                        source="xquad", pair=pair, group=f"xquad-{q.article}", qid=q.id, answerable=answerable, kind=kind,
                        numeric=_has_digit(english.get(q.id, ())),
                    )
                )
    return runs


def gather_corpus(corpus: Path, questions: Path, cache_dir: str | None) -> list[Run]:
    """The training questions on the shipped corpus (indexed under the cache, incrementally)."""
    from ingest import Indexer

    settings = Settings(torch_threads=1)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(os.environ)
    target = settings.model_copy(update={"index_dir": cache / "corpus-train", "collection": "corpus_train", "chroma_url": None})
    embedder, multilingual = SentenceTransformerEmbedder(settings), build_multilingual(settings)
    Indexer(target, embedder, multilingual).run([str(corpus)])
    assistant = _assistant(target, embedder, multilingual)
    runs = []
    for item in load_devset(questions):
        fact = item.fact()
        runs.append(
            _run(
                assistant, item.question, lambda text, f=fact: bool(f.search(text)),
                source="corpus", pair=f"corpus-{item.lang}", group=f"corpus-{item.source or item.id}", qid=item.id,
                answerable=item.answerable, kind="answerable" if item.answerable else "not_in_corpus",
                numeric=bool(item.answer and re.search(r"\d", item.answer)),
            )
        )
    return runs
