"""Training data for the sentence scorer, gathered through the product: every candidate sentence's features
(`Assistant.evidence`, with no scorer yet) and whether it holds the answer."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.beir import default_cache_dir
from evaluation.qa import load_devset
from evaluation.squad import article_document, contains_gold, in_split, index_articles, load_squad, squad_files
from rag.answering import EvidenceStep
from rag.answering.features import FeatureInputs, feature_rows
from rag.assistant import Assistant
from rag.embedder import SentenceTransformerEmbedder
from rag.multilingual import build_multilingual
from rag.settings import Settings

PAIRS = ("en-en", "de-de", "de-en", "ru-en", "en-de", "en-mix", "de-mix", "ru-mix")
# "mix": an index whose articles are in different languages (each article in English, German or Russian, by
# its number), as a real corpus can be: a question then has passages in its own language and in others, and
# the scorer learns to weigh a sentence across that contrast (one-language indexes never show it).
MIX = ("en", "de", "ru")


def mixed_language(index: int) -> str:
    return MIX[(index // 3) % len(MIX)]
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
    answers: tuple[str, ...]  # gold answer texts (what the answer kinds are learned from); () when unanswerable
    vector: np.ndarray  # the question's multilingual vector
    inputs: FeatureInputs  # what the product's `feature_rows` reads (rows are recomputed from it)
    labels: np.ndarray  # candidate holds the answer
    model: str  # the multilingual model

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.inputs.spans]

    def rows(self, kinds: Mapping[str, float] | None = None) -> np.ndarray:
        inputs = self.inputs if kinds is None else self.inputs.with_kinds(kinds)
        return feature_rows(inputs)


class _Recording(EvidenceStep):
    """The product's evidence step without a scorer, keeping the inputs of the last question it scored."""

    last: FeatureInputs | None = None

    def decide(self, question, query, passages, inputs):  # type: ignore[no-untyped-def]
        self.last = inputs
        return super().decide(question, query, passages, inputs)


def _run(assistant: Assistant, question: str, matches, **fields) -> Run:  # type: ignore[no-untyped-def]
    step = assistant.evidence_step
    assert isinstance(step, _Recording)
    assistant.evidence(question)
    inputs = step.last
    assert inputs is not None
    labels = np.array([bool(matches(s.text)) for s in inputs.spans], dtype=bool)
    return Run(inputs=inputs, labels=labels, vector=inputs.query_vector, model=assistant.multilingual.name, question=question, **fields)


def _assistant(settings: Settings, embedder, multilingual) -> Assistant:  # type: ignore[no-untyped-def]
    assistant = Assistant(settings, embedder=embedder, multilingual=multilingual)
    assistant.evidence_step = _Recording(None, multilingual)
    return assistant


def _stated(corpus: Path, source: str | None, fact: re.Pattern[str]) -> tuple[str, ...]:
    """The text the expected-fact pattern matches in its source document (the gold answer's words)."""
    path = corpus / (source or "")
    if not source or not path.is_file():
        return ()
    return tuple(dict.fromkeys(m.group(0) for m in fact.finditer(path.read_text(encoding="utf-8"))))


def gather_xquad(folder: Path, cache_dir: str | None) -> list[Run]:
    from tqdm import tqdm

    settings = Settings(torch_threads=1)
    embedder, multilingual = SentenceTransformerEmbedder(settings), build_multilingual(settings)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(os.environ)
    files = squad_files(folder)
    articles = {lang: [a for a in load_squad(path) if in_split(a.index, "train")] for lang, path in files.items()}
    runs: list[Run] = []
    for fold in range(INDEX_FOLDS):
        for pair in PAIRS:
            q_lang, _, d_lang = pair.partition("-")
            languages = [mixed_language(a.index) if d_lang == "mix" else d_lang for a in articles["en"]]
            docs = [articles[lang][n] for n, lang in enumerate(languages)]
            absent = {a.index for position, a in enumerate(docs) if position % INDEX_FOLDS == fold}
            kept = {a.index: [p for p in range(len(a.paragraphs)) if (p + a.index + fold) % PARAGRAPH_GAP] for a in docs}
            documents = [article_document(a, lang, kept[a.index]) for a, lang in zip(docs, languages) if a.index not in absent]
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
                        answers=tuple(gold[q.id]) if answerable else (),
                    )
                )
    return runs


def gather_corpus(corpus: Path, questions: Path, cache_dir: str | None) -> list[Run]:
    """The training questions on the shipped corpus (indexed under the cache, incrementally)."""
    from ingest import Indexer

    settings = Settings(torch_threads=1)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(os.environ)
    embedder, multilingual = SentenceTransformerEmbedder(settings), build_multilingual(settings)
    # one index per pair of models (as the XQuAD indexes are keyed): a changed model builds a new one
    folder = cache / f"corpus-train-{embedder.name}+{multilingual.name}"
    target = settings.model_copy(update={"index_dir": folder, "collection": "corpus_train", "chroma_url": None})
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
                answers=_stated(corpus, item.source, fact) if item.answerable else (),
            )
        )
    return runs
