"""Every loader on real files, and every kind of broken file, each with one clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.discover import discover
from ingest.load import load_bytes
from rag.errors import IngestError

from .conftest import AI_LAW
from .files import HTML_PAGE, make_docx, make_pdf, make_zip_bomb_docx


def load(path: Path):  # type: ignore[no-untyped-def]
    return load_bytes(path, path.name, path.read_bytes())


def test_markdown_front_matter_becomes_metadata_and_is_not_part_of_the_text(tmp_path):
    path = tmp_path / "ai-law.md"
    path.write_text(AI_LAW, encoding="utf-8")
    doc = load(path)
    assert doc.title == "Kazakhstan's law on artificial intelligence"
    assert doc.meta["date"] == "2025-11-17" and doc.meta["language"] == "en" and doc.meta["topic"] == "AI law"
    assert doc.meta["url"] == "https://example.org/ai-law"
    assert doc.meta["sources"][0].title == "Tokayev signs AI law"
    assert doc.text.startswith("# Kazakhstan's law") and "---" not in doc.text


def test_plain_text_without_front_matter_takes_its_title_from_the_file_name(tmp_path):
    path = tmp_path / "digital_code-notes.txt"
    path.write_text("The Digital Code was adopted in 2025.\n", encoding="utf-8")
    doc = load(path)
    assert doc.title == "Digital code notes" and doc.text.strip() == "The Digital Code was adopted in 2025."


def test_html_keeps_the_main_text_and_drops_navigation(tmp_path):
    path = tmp_path / "hub.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    doc = load(path)
    assert doc.title == "Astana Hub annual review"
    assert "international technology park" in doc.text
    assert "Navigation menu" not in doc.text and "cookie banner" not in doc.text


def test_pdf_text_keeps_page_numbers(tmp_path):
    path = make_pdf(tmp_path / "report.pdf", ["Page one talks about eGov services.", "Page two talks about data centres."])
    doc = load(path)
    assert doc.title == "Digital Kazakhstan report"
    assert [page for _, page in doc.pages] == [1, 2]
    second = doc.pages[1][0]
    assert doc.text[second:].startswith("Page two")


def test_docx_paragraphs_and_tables(tmp_path):
    path = make_docx(tmp_path / "plan.docx", "Digital plan", ["The plan covers eGov.", "It also covers broadband."])
    doc = load(path)
    assert doc.title == "Digital plan"
    assert "The plan covers eGov." in doc.text and "Digital Kazakhstan 2018-2022" in doc.text


def test_non_utf8_text_is_decoded(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Präsident Tokayev sprach über Künstliche Intelligenz und Digitalisierung in Kasachstan.".encode("cp1252"))
    assert "Präsident" in load(path).text


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("binary.txt", b"\x00\x01\x02binary\x00data" * 10, "binary"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "PDF"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "DOCX"),
        ("blank.md", b"---\ntitle: x\n---\n   \n", "no text"),
        ("badyaml.md", b"---\ntitle: [unclosed\n---\nText.", "front matter"),
    ],
)
def test_broken_files_raise_one_clear_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=reason):
        load(path)


def test_encrypted_pdf_is_refused_with_advice(tmp_path):
    path = make_pdf(tmp_path / "secret.pdf", ["Secret text."], password="pw")
    with pytest.raises(IngestError, match="encrypted"):
        load(path)


def test_zip_bomb_docx_is_refused_without_unpacking(tmp_path):
    path = make_zip_bomb_docx(tmp_path / "bomb.docx")
    assert path.stat().st_size < 2_000_000
    with pytest.raises(IngestError, match="zip bomb"):
        load(path)


def test_discovery_skips_unknown_types_and_refuses_symlinks_leaving_the_folder(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("Text.")
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / "odd name – ü (1).md").write_text("Odd.")
    outside = tmp_path / "outside.md"
    outside.write_text("Secret outside the corpus.")
    (root / "link.md").symlink_to(outside)
    (root / "inside-link.md").symlink_to(root / "a.md")
    found = discover([str(root)])
    assert sorted(t.source for t in found.targets) == ["docs/a.md", "docs/inside-link.md", "docs/odd name – ü (1).md"]
    assert found.skipped == (("docs/image.png", "unsupported file type '.png'"),)
    assert len(found.failed) == 1 and found.failed[0][0] == "docs/link.md" and "outside" in found.failed[0][1]
    assert found.scopes == ("docs/",)


def test_deeply_nested_html_gives_a_bounded_result_or_one_clear_reason(tmp_path):
    path = tmp_path / "nested.html"
    depth = 20_000
    path.write_text("<html><body>" + "<div>" * depth + "<p>Deep text about eGov services in Kazakhstan.</p>" + "</div>" * depth + "</body></html>")
    try:
        doc = load(path)
    except IngestError as exc:
        assert "HTML" in str(exc) or "no main text" in str(exc)
    else:
        assert len(doc.text) < 10_000
