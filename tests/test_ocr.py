"""Scanned PDF pages: OCRed with Debian's tesseract, cited by page; without tesseract, reported with advice.

The scans are drawn here (Pillow, DejaVu Sans) and saved as image-only PDF pages. Needs tesseract with its
English, Russian, German and Kazakh data (`make test` installs them: `make ocr`).
"""

from __future__ import annotations

import logging
import shutil

import pytest

import ingest.ocr
from ingest.load import load_bytes
from rag.errors import IngestError

from .files import make_scanned_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed (make ocr)")

TEXT_PAGE = "The first page has a text layer. It describes the eGov portal and its public services."
SCAN = "scan:The Ministry of Digital Development approved the broadband plan. It connects 1,200 villages by 2027."


def _load(path):  # type: ignore[no-untyped-def]
    return load_bytes(path, f"docs/{path.name}", path.read_bytes())


@needs_tesseract
def test_a_scanned_page_is_read_by_ocr_and_keeps_its_page_number(tmp_path):
    doc = _load(make_scanned_pdf(tmp_path / "order.pdf", [TEXT_PAGE, SCAN]))
    assert [page for _, page in doc.pages] == [1, 2]
    scanned = doc.text[doc.pages[1][0] :]
    assert "broadband plan" in scanned and "1,200 villages" in scanned
    assert doc.text.startswith("The first page has a text layer.")
    assert doc.meta["ocr_pages"] == "2" and "unread_pages" not in doc.meta


@needs_tesseract
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Министерство цифрового развития утвердило план широкополосного доступа.", "широкополосного"),
        ("Цифрлық даму министрлігі жасанды интеллект тұжырымдамасын бекітті.", "тұжырымдамасын"),
        ("Das Ministerium für Digitalisierung hat den Breitbandplan für Dörfer genehmigt.", "Breitbandplan"),
    ],
)
def test_scans_in_russian_kazakh_and_german_are_read(tmp_path, text, expected):
    doc = _load(make_scanned_pdf(tmp_path / "scan.pdf", ["scan:" + text]))
    assert expected in doc.text


def test_without_tesseract_text_pages_still_load_and_the_scan_is_reported(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(ingest.ocr, "find_tesseract", lambda: None)
    path = make_scanned_pdf(tmp_path / "order.pdf", [TEXT_PAGE, SCAN])
    with caplog.at_level(logging.WARNING, logger="ingest.pdf"):
        doc = _load(path)
    assert "eGov portal" in doc.text and "broadband" not in doc.text
    assert [page for _, page in doc.pages] == [1] and doc.meta["unread_pages"] == "2"
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "page(s) 2" in warning and "apt-get install tesseract-ocr" in warning and "make ocr" in warning


def test_a_scan_only_pdf_without_tesseract_is_refused_with_advice(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest.ocr, "find_tesseract", lambda: None)
    path = make_scanned_pdf(tmp_path / "scan.pdf", [SCAN])
    with pytest.raises(IngestError, match="OCR is not available.*tesseract"):
        _load(path)


@needs_tesseract
def test_a_question_only_the_scan_answers_is_answered_citing_its_page(tmp_path, make_settings, embedder):
    from ingest import Indexer
    from rag import Assistant

    folder = tmp_path / "docs"
    folder.mkdir()
    path = make_scanned_pdf(folder / "order.pdf", [TEXT_PAGE, SCAN])
    settings = make_settings()
    report = Indexer(settings, embedder).run([str(folder)])
    assert report.ok and report.added == ["docs/order.pdf"], report.failed
    text = _load(path).text
    answer = Assistant(settings, embedder=embedder).ask("How many villages does the broadband plan connect?")
    assert answer.grounded, answer.text
    cited = [c for c in answer.citations if "villages" in c.quote]
    assert cited and all(c.page == 2 and c.source == "docs/order.pdf" for c in cited)
    for citation in answer.citations:
        assert text[citation.start : citation.end] == citation.quote
