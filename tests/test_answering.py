"""Answering on a real small index: cross-lingual answers, the learned scorer and its file, the evidence step,
and one contract every generator keeps."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from ingest.load import load_bytes
from rag import Assistant, ConfigError
from rag.answering import EvidenceStep, SentenceScorer
from rag.answering.answer_types import KINDS, kinds_of
from rag.answering.features import FEATURES, anchor_share, names_in, profile, question_facts
from rag.answering.scorer import DEFAULT_PATH
from rag.answering.support import SUPPORT_FEATURES, support_row

QUESTIONS = [
    "When did the AI law take effect?",
    "Wer hat das Gesetz über künstliche Intelligenz unterzeichnet?",
    "Когда вступил в силу закон об искусственном интеллекте?",
    "How large could the global AI market become by 2033?",
    "Where was the national supercomputer launched?",
    "What is the best recipe for lasagna?",
    "Wie backe ich einen Apfelkuchen mit Zimt?",
    "Кто выиграл чемпионат мира по футболу в 2022 году?",
]


def _document_text(corpus, source: str) -> str:
    path = corpus / source.split("/", 1)[1]
    return load_bytes(path, source, path.read_bytes()).text


# Known gaps of the shipped scorer (issue 20, open): each was measured failing on 2026-12-04 and is kept as a strict
# xfail, so it turns into a failure the day the scorer answers it (then drop the mark).
KNOWN_GAP = pytest.mark.xfail(strict=True, reason="issue 20: the scorer prefers a sentence that echoes the question's words")


# --- cross-lingual answers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, language, fact, source",
    [
        pytest.param("Wer hat das Gesetz über künstliche Intelligenz unterzeichnet?", "de", "President Tokayev signed", "ai-law.md", marks=KNOWN_GAP),
        pytest.param("Кто подписал закон об искусственном интеллекте?", "ru", "President Tokayev signed", "ai-law.md", marks=KNOWN_GAP),
        ("Wo wurde der nationale Supercomputer gestartet?", "de", "in Astana in July 2025", "supercomputer.md"),
    ],
)
def test_a_question_in_another_language_quotes_the_english_document(assistant, question, language, fact, source):
    answer = assistant.ask(question)
    assert answer.grounded, answer.text
    assert fact in answer.citations[0].quote and answer.citations[0].source.endswith(source)
    assert answer.language == language


def test_an_english_question_quotes_the_german_document(assistant):
    answer = assistant.ask("How large could the global AI market become by 2033?")
    assert answer.grounded, answer.text
    assert "4,8 Billionen" in answer.text and answer.citations[0].source.endswith("tokayev-treffen.de.txt")


@pytest.mark.parametrize(
    "question, says",
    [
        ("What is the best recipe for lasagna?", "could not find"),
        ("Wie backe ich einen Apfelkuchen mit Zimt?", "keine Antwort"),
        ("Кто выиграл чемпионат мира по футболу в 2022 году?", "нет ответа"),
    ],
)
def test_refusals_speak_the_askers_language(assistant, question, says):
    answer = assistant.ask(question)
    assert not answer.grounded and says in answer.text and not answer.citations


@KNOWN_GAP
def test_a_paraphrased_question_is_answered(assistant):
    """"come into force" for a text that says "took effect"; "put his signature on" for "signed"."""
    answer = assistant.ask("When did the AI law come into force?")
    assert answer.grounded and "January 2026" in answer.text, answer.text
    answer = assistant.ask("Who put his signature on the AI law?")
    assert answer.grounded and "President Tokayev signed" in answer.text, answer.text


def test_the_multilingual_models_vectors_are_the_same_at_ingest_and_at_question_time(assistant, small_index):
    """The index was written with e5's passage vectors, and a question is embedded by the same model (query side)."""
    from rag.e5_onnx import PASSAGE, QUERY
    from rag.language_offsets import language_offsets

    settings, _ = small_index
    assert settings.multilingual_model == "e5" and assistant.multilingual.name == "multilingual-e5-small-int8-ln"
    evidence = assistant.evidence("When did the AI law take effect?")
    chunk = evidence.passages[0].chunk
    ids = [f"{chunk.id}:{i}" for i in range(int(chunk.meta["n_sentences"]))]
    stored = assistant.store.sentences.sentences(ids)
    texts = [evidence.passages[0].chunk.text[a - chunk.start : b - chunk.start] for a, b in zip(stored.starts, stored.ends)]
    runner = assistant.multilingual.runner
    assert np.allclose(stored.vectors, runner.encode(texts, PASSAGE), atol=1e-5)
    query = assistant.encoder.encode("When did the AI law take effect?")
    assert np.allclose(query.multilingual, runner.encode(["When did the AI law take effect?"], QUERY)[0], atol=1e-5)
    # English is the offsets' reference; a German question loses German's offset (rag/language_offsets.py)
    german = assistant.encoder.encode("Wann trat das KI-Gesetz in Kraft?")
    raw = runner.encode(["Wann trat das KI-Gesetz in Kraft?"], QUERY)
    assert german.language == "de" and not np.allclose(german.multilingual, raw[0], atol=1e-3)
    assert np.allclose(german.multilingual, language_offsets(assistant.multilingual.name).queries(raw, ["de"])[0], atol=1e-5)


# --- the evidence step ---------------------------------------------------------------------------------------------
def test_sentence_vectors_come_from_the_index_not_from_the_model(small_index, embedder):
    from rag.multilingual import MultilingualE5

    class Counting(MultilingualE5):
        documents = 0

        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            Counting.documents += len(texts)
            return super().embed_documents(texts)

    settings, _ = small_index
    bot = Assistant(settings, embedder=embedder, multilingual=Counting(settings.model_cache, 1))
    answer = bot.ask("When did the AI law take effect?")
    assert answer.grounded and Counting.documents == 0  # only the question was embedded
    assert answer.timings_ms["answer"] < 1000


def test_evidence_lists_every_sentence_with_exact_offsets_and_features(assistant, small_index):
    _, corpus = small_index
    evidence = assistant.evidence("When was the AI law signed?")
    assert evidence.supported and evidence.best is not None and "17 November 2025" in evidence.best.text
    probabilities = [c.probability for c in evidence.candidates]
    assert probabilities == sorted(probabilities, reverse=True)
    assert evidence.support >= evidence.threshold == assistant.scorer.threshold
    for c in evidence.candidates:
        assert _document_text(corpus, c.passage.source)[c.start : c.end] == c.text
        assert len(c.features) == len(FEATURES)
    assert len({(c.passage.source, c.start) for c in evidence.candidates}) == len(evidence.candidates)


def test_question_facts_find_names_numbers_and_what_the_corpus_lacks(assistant):
    lexical = assistant.retriever.lexical()
    facts = question_facts("What is Uzbekistan's AI strategy for 2030?", "en", lexical.idf, lexical.knows, dict.fromkeys(KINDS, 0.5))
    assert "Uzbekistan" in facts.unknown_names and "2030" in facts.unknown_names
    assert facts.unknown > 0 and facts.unknown_anchor == 1.0
    known = question_facts("What did Tokayev sign in 2025?", "en", lexical.idf, lexical.knows, dict.fromkeys(KINDS, 0.5))
    assert known.unknown_names == () and known.names == ("Tokayev",)
    assert names_in("Wer leitet das neue KI-Ministerium in Astana?") == ["KI-Ministerium", "Astana"]
    assert anchor_share(known, profile("President Tokayev signed it on 17 November 2025.", "en")) == 1.0


def test_words_the_corpus_lacks_count_as_far_as_the_corpus_speaks_the_questions_language(assistant):
    # Bug: "Wann wurde das KI-Gesetz unterzeichnet?" was declined with "Sie erwähnen 'KI-Gesetz' nicht" although
    # the (mostly English) corpus says "AI law": a German word is missing from English text either way.
    evidence = assistant.evidence("Wann wurde das KI-Gesetz unterzeichnet?")
    assert evidence.unknown_names == ()
    assert "KI-Gesetz" not in assistant.ask("Wann wurde das KI-Gesetz unterzeichnet?").text
    lexical = assistant.retriever.lexical()
    assert lexical.share("en") == pytest.approx(1 - lexical.share("de")) and 0 < lexical.share("de") < 0.5
    assert lexical.share("") == 1.0
    kinds = dict.fromkeys(KINDS, 0.5)
    german = question_facts("Wann wurde das KI-Gesetz unterzeichnet?", "de", lexical.idf, lexical.knows, kinds, lexical.share("de"))
    alone = question_facts("Wann wurde das KI-Gesetz unterzeichnet?", "de", lexical.idf, lexical.knows, kinds)
    assert german.unknown_names == alone.unknown_names == ("KI-Gesetz",)
    assert german.unknown == pytest.approx(alone.unknown * lexical.share("de")) and german.unknown < alone.unknown
    assert german.unknown_anchor == pytest.approx(lexical.share("de")) and not german.says_unknown and alone.says_unknown


# --- the scorer file ---------------------------------------------------------------------------------------------
def test_the_shipped_scorer_is_a_trained_calibrated_model():
    scorer = SentenceScorer.load()
    assert scorer.sentence.features == FEATURES and scorer.support.features == SUPPORT_FEATURES
    assert 0 < scorer.threshold < 1
    assert set(scorer.answer_kinds) == set(KINDS) and all(m.coef.size == 384 for m in scorer.answer_kinds.values())
    assert scorer.extension is not None and 0 < scorer.extension_threshold < 1
    assert 0 < scorer.llm_threshold <= scorer.threshold  # an LLM, whose sentences are verified, may try more questions
    assert scorer.info.get("cross_validated") and scorer.info.get("trade_off")  # written by bench/train_scorer.py
    p = scorer.probabilities(np.zeros((3, len(FEATURES)), dtype=np.float32))
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))
    kinds = scorer.kinds(np.ones(384) / np.sqrt(384))
    assert set(kinds) == set(KINDS) and all(0 < v < 1 for v in kinds.values())


def test_a_retrained_scorer_file_is_loaded_and_used(small_index, embedder, tmp_path):
    settings, _ = small_index
    data = json.loads(DEFAULT_PATH.read_text())
    support = data["support"]
    support["coef"] = [0.0] * len(SUPPORT_FEATURES)
    support["coef"][SUPPORT_FEATURES.index("top_coverage")] = 1.0
    support["intercept"] = -1.0
    data["threshold"] = 0.999  # this scorer never finds enough support
    path = tmp_path / "retrained.json"
    path.write_text(json.dumps(data))
    bot = Assistant(settings.model_copy(update={"scorer_path": path}), embedder=embedder)
    evidence = bot.evidence("When did the AI law take effect?")
    rows = np.asarray([c.features for c in evidence.candidates])
    row = support_row(rows, np.asarray([c.probability for c in evidence.candidates]))
    i = SUPPORT_FEATURES.index("top_coverage")
    z = (row[i] - support["mean"][i]) / support["scale"][i] - 1.0
    assert evidence.support == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-4)
    assert evidence.threshold == 0.999 and not bot.ask("When did the AI law take effect?").grounded
    lenient = Assistant(settings.model_copy(update={"scorer_path": path, "refusal_threshold": 0.01}), embedder=embedder)
    assert lenient.ask("When did the AI law take effect?").grounded  # the setting overrides the file's threshold


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["sentence"].update(features=d["sentence"]["features"][:-1]), "other features"),
        (lambda d: d["support"].update(coef=d["support"]["coef"][:-1]), "other features"),
        (lambda d: d.update(embedding_model="another-model"), "RAG_MULTILINGUAL_MODEL"),
        (lambda d: d.pop("sentence"), "not a scorer file"),
        (lambda d: d.update(format=1), "not a scorer file"),
    ],
)
def test_a_mismatched_scorer_file_is_refused_with_the_fix(tmp_path, change, message):
    data = json.loads(DEFAULT_PATH.read_text())
    change(data)
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        SentenceScorer.load(path, "use-multilingual-v3")
    with pytest.raises(ConfigError, match="RAG_SCORER_PATH"):
        SentenceScorer.load(tmp_path / "missing.json")


# --- one contract for every generator ------------------------------------------------------------------------------
@pytest.fixture(params=["extractive", "llm"])
def any_generator(request, small_index, embedder):  # type: ignore[no-untyped-def]
    settings, _ = small_index
    if request.param == "extractive":
        return Assistant(settings, embedder=embedder)
    bot = Assistant(settings.model_copy(update={"generator": "openai"}), embedder=embedder)
    # Whatever the question, the scripted model states facts of the passages, one with a wrong marker.
    bot.chat.set(FakeListChatModel(responses=["The AI law took effect in January 2026 [1]. KazLLM understands Kazakh [7]."]))
    return bot


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_generator_cites_real_passages_with_exact_quotes(any_generator, small_index, question):
    _, corpus = small_index
    answer = any_generator.ask(question)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    if not answer.grounded:
        assert not answer.citations and not markers and answer.related
        return
    assert answer.citations and markers == {c.n for c in answer.citations}
    stored = any_generator.store.get(sorted({c.chunk.id for c in answer.citations}))
    for c in answer.citations:
        assert c.chunk.id in stored  # the cited passage exists in the index
        assert _document_text(corpus, c.source)[c.start : c.end] == c.quote
        assert c.quote in c.chunk.text


def test_the_evidence_step_without_a_scorer_supports_nothing(assistant):
    step = EvidenceStep(None, assistant.multilingual)
    query = assistant.encoder.encode("When did the AI law take effect?")
    passages = assistant.retriever.retrieve(query)
    evidence = step.gather("When did the AI law take effect?", query, passages, assistant.retriever.lexical(), assistant.store.sentences)
    assert evidence.candidates and not evidence.supported
    assert all(c.probability == 0 for c in evidence.candidates)


def test_sentences_the_index_lacks_are_embedded_on_the_spot(assistant):
    """An index written before sentence vectors existed still gets answers (slower): the step embeds them."""
    from rag.spaces import StoredSentences

    class Empty:
        def sentences(self, ids):  # type: ignore[no-untyped-def]
            return StoredSentences((), (), (), (), np.zeros((0, 0), dtype=np.float32))

    step = EvidenceStep(assistant.scorer, assistant.multilingual)
    query = assistant.encoder.encode("When did the AI law take effect?")
    passages = assistant.retriever.retrieve(query)
    fresh = step.gather(query.text, query, passages, assistant.retriever.lexical(), Empty())
    stored = assistant.evidence("When did the AI law take effect?")
    assert [c.text for c in fresh.candidates] == [c.text for c in stored.candidates]
    assert [c.probability for c in fresh.candidates] == pytest.approx([c.probability for c in stored.candidates], abs=1e-4)


# --- answer kinds and the neighbour of the best sentence -----------------------------------------------------------
def test_answer_kinds_of_gold_answers_and_of_sentences():
    from rag.answering.answer_types import sentence_kinds

    assert {k for k, v in kinds_of("17 November 2025").items() if v} == {"number", "year", "day"}
    assert {k for k, v in kinds_of("USD 5 billion").items() if v} == {"number", "amount"}
    assert {k for k, v in kinds_of("Bektenov").items() if v} == {"name"}
    question = "How many hospitals in the Akmola region took part in the pilot in 2025?"
    held = sentence_kinds("The pilot ran in hospitals of the Akmola region in 2025.", profile("The pilot ran in hospitals of the Akmola region in 2025.", "en"), question, frozenset({"2025"}))
    assert not held["number"] and not held["amount"]  # the asked-for count is missing: 2025 is the question's own
    text = "Twelve hospitals, 40% of the region's, took part from 15 September 2025."
    held = sentence_kinds(text, profile(text, "en"), question, frozenset({"2025"}))
    assert held["number"] and held["amount"] and held["day"]


def test_a_neighbour_the_extension_model_asks_for_is_quoted_with_the_best_sentence(small_index, embedder):
    """The mechanism, with an extension model that always says yes: the sentence after the best one joins the answer."""
    settings, _ = small_index
    scorer = SentenceScorer.load()
    always = type(scorer.extension)(scorer.extension.features, scorer.extension.mean, scorer.extension.scale, scorer.extension.coef * 0, 30.0)
    from dataclasses import replace

    bot = Assistant(settings, embedder=embedder, scorer=replace(scorer, extension=always, extension_threshold=0.5))
    evidence = bot.evidence("When did the AI law take effect?")
    best = evidence.best
    assert best is not None and evidence.extensions
    same = sorted((c for c in evidence.candidates if c.passage.chunk.id == best.passage.chunk.id), key=lambda c: c.start)
    at = same.index(best)
    def key(c):  # candidates hold mappings (not hashable): compare them by chunk and offset
        return c.passage.chunk.id, c.start

    assert {key(e) for e in evidence.extensions} <= {key(c) for c in same[max(at - 1, 0) : at + 2]} - {key(best)}
    answer = bot.ask("When did the AI law take effect?")
    assert all(e.text in answer.text for e in evidence.extensions) and best.text in answer.text
    never = Assistant(settings, embedder=embedder, scorer=replace(scorer, extension_threshold=1.01))
    assert never.evidence("When did the AI law take effect?").extensions == ()


TOPIC_THEN_FACT = """---
title: "The Qoldau platform"
date: "2025-06-01"
language: en
---
# The Qoldau platform

Reports disagree on what the minister said about the security of the Qoldau platform. He said that the platform had passed an independent audit in March 2025 and was safe for state data. Critics answered that the audit report was never published.
"""


@pytest.fixture(scope="module")
def topic_index(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    from ingest import Indexer
    from rag import Settings

    from .conftest import AI_LAW, write_corpus

    root = tmp_path_factory.mktemp("topic")
    corpus = write_corpus(root / "corpus", {"qoldau.md": TOPIC_THEN_FACT, "ai-law.md": AI_LAW})
    settings = Settings(index_dir=root / "index")
    assert Indexer(settings, embedder).run([str(corpus)]).ok
    return Assistant(settings, embedder=embedder)


@KNOWN_GAP
@pytest.mark.parametrize("question", ["What did the minister say about Qoldau?", "Was sagte der Minister über Qoldau?", "Что сказал министр о Qoldau?"])
def test_an_answer_says_what_was_said_not_only_that_something_was(topic_index, question):
    """The sentence that only restates the topic is not the whole answer: the one carrying the content is quoted."""
    answer = topic_index.ask(question)
    assert answer.grounded, answer.text
    assert "independent audit in March 2025" in answer.text, answer.text
