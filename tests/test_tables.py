"""Tables in PDFs and DOCX files become Markdown tables in the passage; each row is a quotable sentence, and a
chunk inside a long table carries the table's header as context (never as part of its exact-slice text)."""

from __future__ import annotations

import pytest

from ingest.chunk import chunk_document
from ingest.load import load_bytes
from ingest.tables import find_tables, markdown_table
from rag.text import is_heading, sentence_spans
from rag.types import Document

from .files import make_table_docx, make_table_pdf

REGIONS = [
    "Abai",
    "Akmola",
    "Aktobe",
    "Almaty",
    "Atyrau",
    "East Kazakhstan",
    "Jambyl",
    "Jetisu",
    "Karaganda",
    "Kostanay",
    "Kyzylorda",
    "Mangystau",
    "Pavlodar",
    "North Kazakhstan",
    "Ulytau",
    "Turkistan",
]
HEADER = ["Indicator", "2025 target", "2029 target"]
ROWS = [HEADER] + [
    [f"Households with broadband internet in {r} region", f"{60 + i}%", f"{80 + i}%"] for i, r in enumerate(REGIONS)
]
TURKISTAN = "| Households with broadband internet in Turkistan region | 75% | 95% |"
INTRO = "The Ministry of Digital Development sets regional broadband targets for 2025 and 2029."


def _load(path):  # type: ignore[no-untyped-def]
    return load_bytes(path, f"docs/{path.name}", path.read_bytes())


def test_markdown_table_escapes_pipes_collapses_whitespace_and_drops_empty_columns():
    table = markdown_table([["Name", None, "Value"], ["a|b", "", "1\n000"], ["", "", ""]])
    assert table == "| Name | Value |\n| --- | --- |\n| a\\|b | 1 000 |"
    assert markdown_table([["only one column"], ["x"]]) == "" and markdown_table([["a", "b"]]) == ""


def test_a_pdf_table_becomes_a_markdown_table_after_the_text_above_it(tmp_path):
    doc = _load(make_table_pdf(tmp_path / "targets.pdf", INTRO, ROWS))
    assert doc.text.startswith(INTRO + "\n\n| Indicator | 2025 target | 2029 target |\n| --- | --- | --- |\n")
    assert TURKISTAN in doc.text.splitlines()
    assert doc.text.count("Turkistan") == 1  # the table is not also there as loose text
    assert doc.pages == ((0, 1),)


def test_a_docx_table_stays_where_it_is_in_the_document(tmp_path):
    doc = _load(
        make_table_docx(tmp_path / "plan.docx", "Broadband plan", INTRO, ROWS[:3], "The plan is reviewed every year.")
    )
    before, table, after = doc.text.split("\n\n")[1:]
    assert before == INTRO and after == "The plan is reviewed every year."
    assert table.splitlines() == [
        "| Indicator | 2025 target | 2029 target |",
        "| --- | --- | --- |",
        "| Households with broadband internet in Abai region | 60% | 80% |",
        "| Households with broadband internet in Akmola region | 61% | 81% |",
    ]


def test_table_rows_are_sentences_and_not_headings():
    text = INTRO + "\n\n" + markdown_table(ROWS)
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences[1] == "| Indicator | 2025 target | 2029 target |" and TURKISTAN in sentences
    assert not is_heading(TURKISTAN)


def test_a_long_table_repeats_its_header_in_every_chunk_as_context_not_as_text():
    text = INTRO + "\n\n" + markdown_table(ROWS) + "\n\nThe targets are reviewed every year."
    doc = Document(source="docs/targets.md", title="Targets", text=text, meta={"language": "en"})
    chunks = chunk_document(doc, "h", max_words=60, overlap_words=10)
    assert len(chunks) >= 3
    header = "| Indicator | 2025 target | 2029 target |\n| --- | --- | --- |"
    assert [t.header_start for t in find_tables(text)] == [len(INTRO) + 2]
    assert header in chunks[0].text and "table_header" not in chunks[0].meta
    for chunk in chunks[1:]:
        assert chunk.text == text[chunk.start : chunk.end]  # the invariant: the header is not spliced in
        assert chunk.meta["table_header"] == header
        assert not chunk.text.startswith("| Indicator")


@pytest.fixture(scope="module")
def table_index(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    from ingest import Indexer
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("tables")
    folder = root / "docs"
    folder.mkdir()
    path = make_table_pdf(folder / "targets.pdf", INTRO, ROWS)
    settings = Settings(index_dir=root / "index")
    report = Indexer(settings, embedder).run([str(folder)])
    assert report.ok, report.failed
    return settings, _load(path)


def test_a_row_of_a_long_table_answers_and_the_citation_shows_the_row(table_index, embedder):
    from rag import Assistant

    settings, doc = table_index
    assistant = Assistant(settings, embedder=embedder)
    passages = assistant.retrieve("2029 target for households with broadband internet in Turkistan region")
    assert TURKISTAN in passages[0].text and passages[0].chunk.meta.get("table_header", "").startswith("| Indicator")
    answer = assistant.ask("What is the 2029 target for households with broadband internet in Turkistan region?")
    assert answer.grounded, answer.text
    assert any(c.quote == TURKISTAN for c in answer.citations), [c.quote for c in answer.citations]
    for citation in answer.citations:
        assert doc.text[citation.start : citation.end] == citation.quote
        assert citation.page == 1
