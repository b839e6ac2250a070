"""Checks on the document corpus (corpus/) and the development question set (eval/devset.jsonl).

Uses only pyyaml and the standard library, so it runs without the rag/ingest packages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
DEVSET = REPO / "eval" / "devset.jsonl"
SEED_NAME = "tokayev-ai-strategy-2025-08-11.de.txt"
# CI clones the repo next to shared/, so the seed lives at ../shared/seed relative to the repo root.
SEED_ORIGINAL = Path(__file__).resolve().parents[2] / "shared" / "seed" / SEED_NAME

REQUIRED_KEYS = {"title", "date", "language", "topic", "sources"}
SOURCE_KEYS = {"title", "url", "date"}
ISO = r"\d{4}(?:-\d{2}(?:-\d{2})?)?"
DOC_DATE = re.compile(rf"^({ISO})(?:/({ISO}))?$")
SOURCE_DATE = re.compile(rf"^{ISO}$|^date not shown$")
FILENAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.md$")
SHINGLE = 12
MAX_SHARED_SHINGLES = 2  # a shared name or title may repeat; copied sentences may not

DOCS = sorted(CORPUS.glob("*.md"))
ALL_FILES = DOCS + [CORPUS / SEED_NAME]


def split_front_matter(path: Path) -> tuple[dict, str]:
    """Return (front matter, body); the body is everything after the closing '---' line."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path.name}: must start with a '---' line"
    end = text.find("\n---\n", 3)
    assert end != -1, f"{path.name}: no closing '---' line"
    meta = yaml.safe_load(text[4:end])
    assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
    return meta, text[end + len("\n---\n"):]


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def paragraphs(body: str) -> list[str]:
    """Prose paragraphs of a markdown body, without the '# Title' heading."""
    parts = [p.strip() for p in re.split(r"\n\s*\n", body)]
    return [p for p in parts if p and not p.startswith("#")]


def parse_date(value: str) -> dt.date:
    parts = [int(x) for x in value.split("-")]
    return dt.date(*(parts + [1] * (3 - len(parts))))


def body_of(name: str) -> str:
    return split_front_matter(CORPUS / name)[1]


def load_devset() -> list[dict]:
    lines = DEVSET.read_text(encoding="utf-8").splitlines()
    assert lines, "devset is empty"
    return [json.loads(line) for line in lines]


def test_corpus_size():
    assert 24 <= len(DOCS) <= 30, f"expected 24-30 English documents, found {len(DOCS)}"
    assert (CORPUS / SEED_NAME).is_file()
    unexpected = {p.name for p in CORPUS.iterdir()} - {p.name for p in ALL_FILES}
    assert not unexpected, f"unexpected files in corpus/: {unexpected}"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_front_matter_complete(path: Path):
    meta, body = split_front_matter(path)
    missing = REQUIRED_KEYS - meta.keys()
    assert not missing, f"missing keys {missing}"
    for key in ("title", "topic", "language", "date"):
        assert isinstance(meta[key], str) and meta[key].strip(), f"{key} must be a non-empty string"
    match = DOC_DATE.match(meta["date"])
    assert match, f"bad document date {meta['date']!r}"
    start, end = match.groups()
    if end:
        assert parse_date(start) <= parse_date(end), "date range runs backwards"
    else:
        parse_date(start)
    sources = meta["sources"]
    assert isinstance(sources, list) and sources, "sources must be a non-empty list"
    for src in sources:
        assert isinstance(src, dict) and SOURCE_KEYS <= src.keys(), f"incomplete source {src}"
        assert isinstance(src["title"], str) and src["title"].strip()
        assert re.match(r"^https?://\S+$", src["url"]), f"bad url {src['url']!r}"
        assert isinstance(src["date"], str) and SOURCE_DATE.match(src["date"]), f"bad source date {src['date']!r}"
        if src["date"] != "date not shown":
            parse_date(src["date"])
    urls = [s["url"] for s in sources]
    assert len(urls) == len(set(urls)), "duplicate source url"
    assert body.strip(), "empty body"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_english_document_shape(path: Path):
    meta, body = split_front_matter(path)
    assert FILENAME.match(path.name), "file name must be lowercase kebab-case .md"
    assert meta["language"] == "en"
    assert body.lstrip("\n").startswith(f"# {meta['title']}\n"), "body must open with '# <title>'"
    n = len(body.split())
    assert 250 <= n <= 700, f"body has {n} words, expected 250-700"
    assert not re.search(r"<[a-zA-Z/][^>]*>", body), "no HTML in documents"
    assert not re.search(r"^\s*\|.*\|\s*$", body, re.M), "no tables in documents"
    for para in paragraphs(body):
        n = len(para.split())
        assert 60 <= n <= 140, f"paragraph of {n} words (expected 60-140): {para[:60]!r}"


def test_seed_front_matter():
    meta, _ = split_front_matter(CORPUS / SEED_NAME)
    assert meta["language"] == "de"
    assert meta["date"] == "2025-08-11"
    assert meta["title"] == "Tokayev fordert KI-Entwicklung als Schlüssel zu Kasachstans Zukunft!"
    assert "note" in meta and "seed" in meta["note"]


def test_seed_text_unchanged():
    if not SEED_ORIGINAL.is_file():
        pytest.skip(f"shared seed not found at {SEED_ORIGINAL}")
    _, body = split_front_matter(CORPUS / SEED_NAME)
    assert body.encode("utf-8") == SEED_ORIGINAL.read_bytes()


def test_no_duplicate_paragraphs():
    # The seed is kept byte-for-byte, including the headline and teaser it repeats itself,
    # so it is only compared against the other files, not against itself.
    seen: dict[str, str] = {}
    for path in ALL_FILES:
        own = [" ".join(words(p)) for p in paragraphs(split_front_matter(path)[1])]
        keys = set(own)
        if path.suffix == ".md":
            assert len(own) == len(keys), f"{path.name} repeats a paragraph"
        for key in keys:
            if len(key.split()) < 8:
                continue
            assert key not in seen, f"paragraph repeated in {seen.get(key)} and {path.name}"
            seen[key] = path.name


def test_no_shared_long_passages():
    shingles = {}
    for path in ALL_FILES:
        w = words(split_front_matter(path)[1])
        shingles[path.name] = {tuple(w[i:i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)}
    for a, b in itertools.combinations(shingles, 2):
        shared = shingles[a] & shingles[b]
        assert len(shared) <= MAX_SHARED_SHINGLES, (
            f"{a} and {b} share {len(shared)} {SHINGLE}-word sequences, e.g. {' '.join(next(iter(shared)))!r}"
        )


def test_devset_lines_valid():
    items = load_devset()
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "duplicate ids"
    questions = [item["question"].strip().lower() for item in items]
    assert len(questions) == len(set(questions)), "duplicate questions"
    for item in items:
        assert set(item) == {"id", "question", "lang", "answer", "source"}, item
        assert isinstance(item["question"], str) and len(item["question"].split()) >= 3, item
        assert item["lang"] in {"en", "de"}, item
        if item["answer"] is None:
            assert re.fullmatch(r"u\d{3}", item["id"]), item
            assert item["source"] is None, item
        else:
            assert re.fullmatch(r"q\d{3}", item["id"]), item
            assert isinstance(item["answer"], str) and item["answer"], item
            re.compile(item["answer"])
            assert isinstance(item["source"], str), item


def test_devset_balance():
    items = load_devset()
    answerable = [i for i in items if i["answer"] is not None]
    unanswerable = [i for i in items if i["answer"] is None]
    german = [i for i in answerable if i["lang"] == "de"]
    assert len(answerable) >= 55
    assert len(unanswerable) >= 12
    assert len(german) >= 6
    assert all(i["source"] == SEED_NAME for i in german), "German questions are about the seed article"
    assert len({i["source"] for i in answerable}) >= 20, "questions should cover most documents"


def test_devset_answers_found_in_source():
    for item in load_devset():
        if item["answer"] is None:
            continue
        path = CORPUS / item["source"]
        assert path.is_file(), f"{item['id']}: source {item['source']} not in corpus/"
        body = body_of(item["source"])
        assert re.search(item["answer"], body, re.I), f"{item['id']}: {item['answer']!r} not in {item['source']}"
