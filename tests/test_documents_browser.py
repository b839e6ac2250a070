"""The Documents tab in real headless Chromium against the real app under uvicorn: upload a PDF, a DOCX and a scanned
PDF (OCR), watch each reach "done", get an answer only they hold (with a citation; the scan's by page), delete one, and
see the question declined.

Needs Debian's Chromium (`apt-get install chromium`). The answers are checked on `grounded` and citations (the API
says them exactly, the page shows them), not on wording: the answer scorer may be retrained.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rag import Assistant, Settings

from .conftest import AI_LAW, write_corpus
from .files import make_docx, make_pdf, make_scanned_pdf
from .servers import chromium, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

PDF_TITLE = "Aral Sea drone survey"
PDF_TEXT = "The Aral Sea drone survey of 2029 counted 318 nesting flamingos on 14 June 2029."
PDF_QUESTION = "How many nesting flamingos did the Aral Sea drone survey of 2029 count?"
DOCX_TITLE = "Caspian wind farm report"
DOCX_TEXT = "The Caspian wind farm near Aktau delivered 612 megawatts of power on 3 October 2028."
DOCX_QUESTION = "How many megawatts of power did the Caspian wind farm near Aktau deliver?"
SCAN_TITLE = "Scanned ministry order"  # tests/files.py make_scanned_pdf's title
SCAN_TEXT = "The Balkhash lake station recorded 47 pelicans on 9 May 2027."
SCAN_QUESTION = "How many pelicans did the Balkhash lake station record?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from ingest import Indexer
    from ingest.uploads import FileIngester
    from rag.server import create_app

    root = tmp_path_factory.mktemp("documents-browser")
    settings = Settings(index_dir=root / "index")
    assert Indexer(settings, embedder).run([str(write_corpus(root / "corpus", {"ai-law.md": AI_LAW}))]).ok
    assistant = Assistant(settings, embedder=embedder)
    assistant.warm_up()
    ingester = FileIngester(settings, embedder, assistant.multilingual)
    with serve_app(create_app(settings, assistant, ingester=ingester)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def api_answer(server: str, question: str) -> dict[str, Any]:
    response = httpx.post(server + "/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def ask(page: Any, question: str, turn: int) -> Any:
    page.get_by_role("tab", name="Chat").click()
    page.fill("#kz-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#kz-sources #turn-{turn}", state="attached", timeout=30_000)
    return page.locator("#kz-chat .bot").last


def test_upload_watch_progress_answer_delete_and_decline(server: str, browser: Any, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    pdf = make_pdf(tmp_path / "aral-survey.pdf", [PDF_TEXT], title=PDF_TITLE)
    docx = make_docx(tmp_path / "caspian-wind.docx", DOCX_TITLE, [DOCX_TEXT])
    scan = make_scanned_pdf(tmp_path / "balkhash-scan.pdf", ["scan:" + SCAN_TEXT], title=SCAN_TITLE)  # an image only: OCR reads it
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    page.wait_for_selector("#kz-question textarea", state="visible", timeout=30_000)

    # 1. The Documents tab lists the corpus; two files go up and each file's progress reaches "done".
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#kz-docs-table")
    expect(table).to_contain_text("Kazakhstan's law on artificial intelligence")
    page.locator("#kz-upload input[type=file]").set_input_files([str(pdf), str(docx), str(scan)])
    for name in ("aral-survey.pdf", "caspian-wind.docx", "balkhash-scan.pdf"):  # Gradio has taken both files
        expect(page.locator(f'#kz-upload a[href$="/{name}"]')).to_have_count(1)
    page.locator("#kz-upload-send").click()
    progress = page.locator("#kz-progress")
    expect(progress.locator("tr.kz-file")).to_have_count(3)
    expect(progress.locator('tr.kz-file[data-stage="done"]')).to_have_count(3, timeout=180_000)
    expect(progress.locator("#kz-job")).to_have_attribute("data-state", "finished")
    expect(table).to_contain_text(PDF_TITLE)
    expect(table).to_contain_text(DOCX_TITLE)
    expect(table).to_contain_text(SCAN_TITLE)

    # 2. Questions only the uploaded documents answer: answered, with a citation of that document.
    bot = ask(page, PDF_QUESTION, 1)
    expect(bot.locator("a.kz-cite").first).to_be_visible()
    expect(page.locator("#kz-sources #turn-1 .kz-title").first).to_have_text(PDF_TITLE)
    answer = api_answer(server, PDF_QUESTION)
    assert answer["grounded"] is True and answer["citations"][0]["source"] == "aral-survey.pdf", answer
    bot = ask(page, DOCX_QUESTION, 2)
    expect(bot.locator("a.kz-cite").first).to_be_visible()
    answer = api_answer(server, DOCX_QUESTION)
    assert answer["grounded"] is True and answer["citations"][0]["source"] == "caspian-wind.docx", answer
    # the scanned page: only OCR can read it, and the citation points at its page
    bot = ask(page, SCAN_QUESTION, 3)
    expect(bot.locator("a.kz-cite").first).to_be_visible()
    answer = api_answer(server, SCAN_QUESTION)
    assert answer["grounded"] is True and "47 pelicans" in answer["citations"][0]["quote"], answer
    assert answer["citations"][0]["source"] == "balkhash-scan.pdf" and answer["citations"][0]["page"] == 1, answer

    # 3. Delete the PDF from the tab: gone from the list, and its question is declined.
    page.get_by_role("tab", name="Documents").click()
    chooser = page.locator("#kz-delete-choice input")
    chooser.click()
    chooser.fill("Aral")
    page.get_by_role("option", name=f"{PDF_TITLE} (aral-survey.pdf)").click()
    page.locator("#kz-delete").click()
    expect(table).not_to_contain_text(PDF_TITLE)
    expect(table).to_contain_text(DOCX_TITLE)
    page.wait_for_timeout(1100)  # the retriever looks at the index generation at most once a second
    bot = ask(page, PDF_QUESTION, 4)
    expect(bot).to_contain_text("Not found in the documents")
    assert api_answer(server, PDF_QUESTION)["grounded"] is False
    assert api_answer(server, DOCX_QUESTION)["grounded"] is True  # the other upload is untouched

    # 4. The same for the scanned PDF: removed, its question (answered from OCR text above) is declined.
    page.get_by_role("tab", name="Documents").click()
    chooser.click()
    chooser.fill("Scanned")
    page.get_by_role("option", name=f"{SCAN_TITLE} (balkhash-scan.pdf)").click()
    page.locator("#kz-delete").click()
    expect(table).not_to_contain_text(SCAN_TITLE)
    page.wait_for_timeout(1100)
    bot = ask(page, SCAN_QUESTION, 5)
    expect(bot).to_contain_text("Not found in the documents")
    assert api_answer(server, SCAN_QUESTION)["grounded"] is False
    assert api_answer(server, DOCX_QUESTION)["grounded"] is True
    assert errors == []
