"""Russian and Kazakh documents: detected as such, stemmed per language for BM25 (Snowball Russian; Kazakh by its
noun endings, `rag.text.kazakh_stem`), and found and answered from questions in Russian, Kazakh and English."""

from __future__ import annotations

import pytest

from rag.language import detect_language
from rag.lexical import LexicalIndex
from rag.text import kazakh_stem, lexical_tokens

from .conftest import AI_LAW, write_corpus

RUSSIAN = """# Концепция развития центров обработки данных

Министерство цифрового развития утвердило концепцию развития центров обработки данных на 2024–2029 годы. Концепция предусматривает строительство 12 новых центров обработки данных в Астане и Алматы.

Финансирование программы составит 90 миллиардов тенге из республиканского бюджета.
"""

KAZAKH = """# Ауылдағы интернет бағдарламасы

Цифрлық даму министрлігі 2025 жылы ауылдарға арналған интернет бағдарламасын бастады. Бағдарлама бойынша 800 ауылға жоғары жылдамдықты интернет жеткізіледі.

Бағдарламаның жұмыстары 2027 жылы аяқталады деп жоспарлануда.
"""

CORPUS = {"ai-law.md": AI_LAW, "data-centres.ru.md": RUSSIAN, "village-internet.kk.md": KAZAKH}


def test_russian_and_kazakh_texts_are_told_apart():
    assert detect_language(RUSSIAN) == "ru" and detect_language(KAZAKH) == "kk"
    assert detect_language("Сколько новых центров обработки данных построят?") == "ru"
    assert detect_language("Бағдарлама бойынша қанша ауылға интернет жеткізіледі?") == "kk"


@pytest.mark.parametrize(
    "forms, stem",
    [
        (["ауыл", "ауылға", "ауылдағы", "ауылдарға", "ауылдарында"], "ауыл"),
        (["министрлік", "министрлігі", "министрлігінің", "министрлікке"], "министрлік"),
        (["бағдарлама", "бағдарламасы", "бағдарламасын", "бағдарламаның", "бағдарламасында"], "бағдарлама"),
    ],
)
def test_kazakh_noun_endings_are_stripped_to_one_stem(forms, stem):
    assert {kazakh_stem(form) for form in forms} == {stem}
    assert kazakh_stem("2027") == "2027"


def test_bm25_stems_each_chunk_in_its_language():
    assert lexical_tokens("центров обработки данных", "ru") == lexical_tokens("центры обработка данные", "ru")
    index = LexicalIndex.build(
        [("ru", RUSSIAN, {"language": "ru", "source": "ru"}), ("kk", KAZAKH, {"language": "kk", "source": "kk"})]
    )
    assert index.search("ауылдарда интернет", 1, language="kk")[0][0] == "kk"
    assert index.search("центры обработка", 1, language="ru")[0][0] == "ru"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    from ingest import Indexer
    from rag import Assistant
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("languages")
    settings = Settings(index_dir=root / "index")
    report = Indexer(settings, embedder).run([str(write_corpus(root / "docs", CORPUS))])
    assert report.ok and len(report.added) == len(CORPUS), report.failed
    return Assistant(settings, embedder=embedder)


def test_chunks_carry_their_documents_language(assistant):
    languages = {
        c.source: c.meta.get("language") for c in (p.chunk for p in assistant.retrieve("интернет центры", k=10))
    }
    assert languages.get("docs/data-centres.ru.md") == "ru" and languages.get("docs/village-internet.kk.md") == "kk"


@pytest.mark.parametrize(
    "question, source",
    [
        ("Сколько новых центров обработки данных построят по концепции?", "docs/data-centres.ru.md"),
        ("How many new data centres will the concept build?", "docs/data-centres.ru.md"),
        ("Бағдарлама бойынша қанша ауылға интернет жеткізіледі?", "docs/village-internet.kk.md"),
        ("How many villages will get high-speed internet under the programme?", "docs/village-internet.kk.md"),
        ("Сколько сёл получат высокоскоростной интернет по программе?", "docs/village-internet.kk.md"),
    ],
)
def test_questions_in_russian_kazakh_and_english_find_and_cite_the_right_document(assistant, question, source):
    assert assistant.retrieve(question, k=1)[0].source == source
    answer = assistant.ask(question)
    assert answer.grounded, answer.text
    assert answer.citations and {c.source for c in answer.citations} == {source}
