"""The chat page in real headless Chromium, against a real server (uvicorn on 127.0.0.1) over the small index.

Needs Debian's Chromium (`make test` installs it: `apt-get install chromium`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from rag.feedback import FeedbackStore, feedback_path

from .servers import chromium, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

LAW_TITLE = "Kazakhstan's law on artificial intelligence"


@pytest.fixture(scope="module")
def server(small_index, assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real app (REST API + chat) served by uvicorn in a thread; yields its base URL."""
    from rag.server import create_app

    settings, _ = small_index
    assistant.warm_up()
    with serve_app(create_app(settings, assistant)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


def ask(page, question: str, turn: int) -> None:  # type: ignore[no-untyped-def]
    page.fill("#kz-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#kz-sources #turn-{turn}", state="attached", timeout=20_000)


def test_chat_answers_with_sources_highlights_citations_and_never_runs_document_markup(
    server, browser, small_index, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    settings, _ = small_index
    page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        started = time.perf_counter()
        page.goto(server + "/")
        page.wait_for_selector("#kz-question textarea", state="visible", timeout=20_000)
        print(f"\npage ready in {time.perf_counter() - started:.2f} s")
        expect(page.locator("#kz-sources")).to_contain_text("Sources appear here")

        # 1. A question about the AI law: an answer with [1] and the document in the sources panel.
        ask(page, "When was the AI law signed?", 1)
        bot = page.locator("#kz-chat .bot").last
        expect(bot).to_contain_text("17 November 2025")
        expect(bot).to_contain_text("[1]")
        panel = page.locator("#kz-sources")
        expect(panel.locator("#cite-1-1 .kz-title")).to_have_text(LAW_TITLE)
        expect(panel.locator("#cite-1-1 mark")).to_be_visible()
        expect(panel.locator("#cite-1-1 .kz-links a").first).to_have_attribute("href", "https://example.org/ai-law")

        # 2. The passage opens from its source's title and from the [1] marker in the answer, with the cited
        #    span (the sentence the answer quotes) highlighted.
        source = panel.locator("#cite-1-1")
        source.locator("summary").click()
        expect(source.locator("mark")).to_be_hidden()
        bot.locator('a.kz-cite[href="#cite-1-1"]').click()
        expect(source).to_have_attribute("open", "")
        expect(source.locator("mark")).to_be_visible()
        quoted = source.locator("mark").inner_text().strip()
        assert quoted and quoted in bot.inner_text()
        expect(page).to_have_url(server + "/")  # handled on the page, not a navigation
        page.wait_for_function("!document.querySelector('.kz-flash')")  # let the highlight flash end
        page.screenshot(path=str(tmp_path / "chat.png"))  # the README's is of the shipped corpus: docs/screenshot.py
        assert (tmp_path / "chat.png").stat().st_size > 10_000

        # 3. Thumbs down on that answer is stored with its question and citations.
        page.locator("#kz-chat").get_by_role("button", name="Dislike", exact=True).last.click()
        deadline = time.monotonic() + 10
        rows: list[dict] = []
        while time.monotonic() < deadline and not rows:
            rows = [r for r in FeedbackStore(feedback_path(settings.index_dir)).rows() if r["channel"] == "web"]
            time.sleep(0.1)
        assert rows and rows[-1]["rating"] == -1 and rows[-1]["question"] == "When was the AI law signed?"
        assert rows[-1]["citations"] and rows[-1]["citations"][0]["n"] == 1

        # 4. A document with planted <script>, <img onerror> and <b> markup: shown as text, never run.
        ask(page, "How many companies does Astana Hub host?", 2)
        bot = page.locator("#kz-chat .bot").last
        expect(bot).to_contain_text("<script>window.__pwned = true;</script>")
        expect(bot).to_contain_text('<img src=x onerror="window.__pwned=true">')
        expect(panel.locator("#cite-2-1 .kz-title")).to_have_text("Planted <b>markup</b> test")
        expect(panel.locator("#cite-2-1 mark")).to_contain_text("<script>window.__pwned = true;</script>")
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        planted = "#kz-chat script, #kz-sources script, #kz-chat img, #kz-sources img, #kz-sources b, [onerror]"
        assert page.locator(planted).count() == 0

        # 5. An off-topic question: said clearly, with the closest passages as "related, but not an answer".
        ask(page, "Give me a lasagna recipe", 3)
        expect(page.locator("#kz-chat .bot").last).to_contain_text("Not found in the documents")
        expect(panel.locator("#turn-3")).to_contain_text("Related, but not an answer")
        expect(panel.locator("#related-3-1 blockquote")).to_be_visible()

        # 6. An empty question gets a friendly message; "New chat" starts over.
        page.fill("#kz-question textarea", "   ")
        page.keyboard.press("Enter")
        expect(page.get_by_text("The question is empty")).to_be_visible()
        page.get_by_role("button", name="New chat").click()
        expect(page.locator("#kz-chat .message-row")).to_have_count(0)
        expect(panel).to_contain_text("Sources appear here")
        assert errors == []
    finally:
        page.close()
