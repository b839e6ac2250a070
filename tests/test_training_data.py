"""The scorer's training questions (eval/train-questions.jsonl) are valid and stay apart from the dev set they
are judged against: no shared fact, no near-identical wording."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.text import sentence_spans

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "eval" / "train-questions.jsonl"
DEVSET = REPO / "eval" / "devset.jsonl"


def rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def body(name: str) -> str:
    return (REPO / "corpus" / name).read_text(encoding="utf-8").split("\n---\n", 1)[1]


def fact_sentences(item: dict) -> set[tuple[str, int]]:  # type: ignore[type-arg]
    """(source, sentence start) of every sentence of the source that states the expected fact."""
    if not item["answer"]:
        return set()
    text = body(item["source"])
    return {(item["source"], a) for a, b in sentence_spans(text) if re.search(item["answer"], text[a:b], re.IGNORECASE)}


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


def test_training_questions_are_well_formed_and_their_facts_are_in_their_sources():
    items = rows(TRAIN)
    assert len(items) >= 80 and len({i["id"] for i in items}) == len(items)
    assert {i["lang"] for i in items} == {"en", "de", "ru"}
    for item in items:
        assert set(item) == {"id", "question", "lang", "answer", "source"}, item
        if item["answer"] is None:
            assert item["source"] is None
        else:
            assert fact_sentences(item), f"{item['id']}: /{item['answer']}/ is in no sentence of {item['source']}"
    assert sum(i["answer"] is None for i in items) >= 20  # the scorer needs questions the corpus cannot answer


def test_no_training_question_shares_a_fact_or_its_wording_with_the_dev_set():
    dev = rows(DEVSET)
    dev_facts = set().union(*(fact_sentences(d) for d in dev))
    for item in rows(TRAIN):
        assert not fact_sentences(item) & dev_facts, f"{item['id']} asks for a fact the dev set asks for"
        for d in dev:
            a, b = words(item["question"]), words(d["question"])
            assert len(a & b) <= 0.35 * len(a | b), f"{item['id']} is worded like dev question {d['id']}"
