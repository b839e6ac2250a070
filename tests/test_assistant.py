"""The Python API end to end on a real small index: cited answers, refusals, German, filters, follow-ups."""

from __future__ import annotations

import pytest

from ingest.load import load_bytes
from rag import Answer, InvalidQuestion
from rag.conversation import as_turns, needs_context, standalone_query


def _document_text(corpus, source: str) -> str:
    path = corpus / source.split("/", 1)[1]
    return load_bytes(path, source, path.read_bytes()).text


def test_answer_cites_exact_spans_of_the_documents(assistant, small_index):
    _, corpus = small_index
    answer = assistant.ask("When did the AI law take effect?")
    assert answer.grounded
    assert "January 2026" in answer.text
    assert answer.citations and "[1]" in answer.text
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        assert _document_text(corpus, citation.source)[citation.start : citation.end] == citation.quote
        assert citation.quote in answer.text  # extractive: every sentence is a quote
        assert citation.url == "https://example.org/ai-law" and citation.title.startswith("Kazakhstan's law")
    assert set(answer.timings_ms) >= {"embed", "retrieve", "answer", "total"}


def test_who_signed_the_law(assistant):
    answer = assistant.ask("Which president signed the artificial intelligence bill into law?")
    assert answer.grounded and "Tokayev" in answer.text and "17 November 2025" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the best recipe for lasagna?",
        "Who won the football world cup in 2022?",
        "What is Uzbekistan's national AI strategy?",
        "How do I change the oil in my car?",
    ],
)
def test_off_topic_questions_are_declined_with_related_passages(assistant, question):
    answer = assistant.ask(question)
    assert not answer.grounded
    assert not answer.citations and "[1]" not in answer.text
    assert "could not find" in answer.text
    assert answer.related


def test_german_question_gets_the_german_passage(assistant):
    answer = assistant.ask("Wie groß könnte der globale KI-Markt bis 2033 werden?")
    assert answer.grounded
    assert "4,8 Billionen" in answer.text
    assert answer.citations[0].source.endswith("tokayev-treffen.de.txt")


def test_german_off_topic_question_is_declined_in_german(assistant):
    answer = assistant.ask("Wie backe ich einen Apfelkuchen mit Zimt?")
    assert not answer.grounded and "keine Antwort" in answer.text


def test_retrieve_returns_ranked_passages_and_filters_apply(assistant):
    passages = assistant.retrieve("supercomputer in Astana", k=3)
    assert passages[0].source.endswith("supercomputer.md")
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))
    assert all(a.score >= b.score for a, b in zip(passages, passages[1:]))
    german = assistant.retrieve("supercomputer in Astana", k=3, filters={"language": "de"})
    assert german and all(p.chunk.meta["language"] == "de" for p in german)
    with pytest.raises(InvalidQuestion, match="unknown filter"):
        assistant.retrieve("x", filters={"colour": "red"})


@pytest.mark.parametrize("question, message", [("", "empty"), ("   \n\t ", "empty"), ("x" * 5000, "characters long"), ("?!…", "no words")])
def test_unusable_questions_raise_a_clear_error(assistant, question, message):
    with pytest.raises(InvalidQuestion, match=message):
        assistant.ask(question)


def test_control_characters_and_odd_unicode_are_harmless(assistant):
    answer = assistant.ask("When\x00 did the AI law\u202e take effect?\x1b[31m")
    assert answer.grounded and "January 2026" in answer.text


def test_follow_up_question_uses_the_previous_turn(assistant):
    first = assistant.ask("Who signed the AI law?")
    follow = assistant.ask("And when did it take effect?", history=[("Who signed the AI law?", first.text)])
    assert follow.grounded and "January 2026" in follow.text


def test_stream_yields_deltas_then_the_final_answer(assistant):
    parts = list(assistant.stream("When did the AI law take effect?"))
    assert isinstance(parts[-1], Answer)
    deltas = [p for p in parts[:-1] if isinstance(p, str)]
    assert deltas and "".join(deltas) == parts[-1].text


def test_heuristic_follow_up_rewriting():
    history = as_turns([("When was the AI law signed?", "On 17 November 2025.")])
    assert standalone_query("And when did it take effect?", history) == "And when did it take effect? When was the AI law signed?"
    assert standalone_query("What is Alem.ai and who runs the centre?", history) == "What is Alem.ai and who runs the centre?"
    assert needs_context("und wann?") and not needs_context("What does the Digital Code regulate about personal data?")
    assert as_turns([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])[0].user == "q"


def test_the_english_models_weighting_applies_only_to_english_on_english(assistant):
    """A German question weighs German and English passages alike, by the multilingual lists: MiniLM's cosine
    between two German texts would otherwise outrank the English passage that answers it."""
    other = assistant.retriever._other_weighting
    assert not other("en", "en") and not other("en", "")
    assert other("en", "de") and other("de", "en") and other("de", "de") and other("ru", "ru")
    assert not other("", "de")  # no language detected: one weighting for all
