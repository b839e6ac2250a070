"""The chat page's rendering and handlers, without a browser: escaping, highlighting, links, feedback."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from rag import Assistant, Chunk, Citation, Source
from rag.feedback import FeedbackStore
from rag.web import render
from rag.web.chat import ChatHandlers, new_state

HOSTILE_QUESTION = "How many companies does Astana Hub host?"


def chunk(text: str, start: int = 100, **meta) -> Chunk:  # type: ignore[no-untyped-def]
    return Chunk(
        id="c1",
        source="corpus/x.md",
        title=meta.pop("title", "A <i>title</i>"),
        text=text,
        start=start,
        end=start + len(text),
        meta=meta,
    )


def test_answer_markers_become_links_and_everything_else_is_inert() -> None:
    text = "It says <script>alert(1)</script> *bold* $$x$$ [1] and [2]; a stray [7] stays."
    html = render.answer_markdown(text, turn=3, citations=2)
    assert '<a class="kz-cite" href="#cite-3-1"' in html and '<a class="kz-cite" href="#cite-3-2"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert r"\*bold\*" in html and r"\$\$x\$\$" in html
    assert "cite-3-7" not in html and r"\[7\]" in html


def test_highlight_marks_exactly_the_cited_span_and_escapes_it() -> None:
    c = chunk("# Heading\n\nBefore <b>the quote</b> after.", start=100)
    quote_start = 100 + c.text.index("<b>")
    html = render.highlighted_passage(c, quote_start, quote_start + len("<b>the quote</b>"))
    assert '<mark class="kz-mark">&lt;b&gt;the quote&lt;/b&gt;</mark>' in html
    assert html.startswith("Heading\nBefore ")  # heading mark and blank line are display-only changes
    assert "<b>" not in html


def test_long_passages_are_trimmed_around_the_mark() -> None:
    text = "a" * 3000 + "QUOTE" + "b" * 3000
    c = chunk(text, start=0)
    html = render.highlighted_passage(c, 3000, 3005, limit=205)
    assert html.startswith("…") and html.endswith("…")
    assert '<mark class="kz-mark">QUOTE</mark>' in html
    assert 200 < len(re.sub(r"<[^>]+>|…", "", html)) <= 205


def test_source_links_only_link_http_urls_and_escape_titles() -> None:
    c = chunk(
        "text",
        sources=(
            Source("Good <source>", "https://example.org/a?b=1&c=2", "2025-01-01"),
            Source("Evil", "javascript:alert(1)"),
        ),
    )
    html = render.source_links(c)
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html and "Good &lt;source&gt;" in html
    assert "javascript:" not in html and "<li>Evil</li>" in html
    assert render.safe_url('https://x.org/"><script>') is None
    assert 'href="https://example.org/own"' in render.source_links(chunk("t", url="https://example.org/own"))


def test_citation_block_has_an_anchor_title_date_and_mark() -> None:
    c = chunk("Alpha beta gamma.", start=10, url="https://example.org/doc", date="2025-11-17")
    html = render.citation_html(Citation(n=2, chunk=c, quote="beta", start=16, end=20, score=0.8), turn=4, open_=True)
    assert html.startswith('<details class="kz-source" name="kz-sources-4" id="cite-4-2" data-n="2" open>')
    assert "A &lt;i&gt;title&lt;/i&gt;" in html and "2025-11-17" in html
    assert 'Alpha <mark class="kz-mark">beta</mark> gamma.' in html


@pytest.fixture
def handlers(assistant: Assistant, tmp_path) -> ChatHandlers:  # type: ignore[no-untyped-def]
    return ChatHandlers(assistant, assistant.settings, FeedbackStore(tmp_path / "feedback.sqlite3"))


def test_a_chat_turn_streams_then_shows_the_answer_and_its_escaped_sources(handlers: ChatHandlers) -> None:
    updates = list(handlers.respond(HOSTILE_QUESTION, new_state()))
    assert len(updates) >= 3  # the question, at least one delta, the final answer
    messages, panel, state, _ = updates[-1]
    assert messages[0] == {"role": "user", "content": render.md_escape(HOSTILE_QUESTION)}
    answer = messages[-1]["content"]
    assert (
        'href="#cite-1-1"' in answer and "&lt;script&gt;" in answer and "<script" not in answer and "<img" not in answer
    )
    assert 'id="cite-1-1"' in panel and "<mark" in panel
    assert "<script" not in panel and "<img" not in panel and "<b>markup" not in panel
    assert "&lt;script&gt;window.__pwned" in panel and "Planted &lt;b&gt;markup&lt;/b&gt; test" in panel
    assert 'href="https://example.org/hostile"' in panel
    assert state["turns"] == [[HOSTILE_QUESTION, state["records"]["1"]["answer"]]]


def test_a_declined_question_says_so_and_shows_related_passages(handlers: ChatHandlers) -> None:
    messages, panel, _, _ = list(handlers.respond("Give me a lasagna recipe", new_state()))[-1]
    assert "Not found in the documents" in messages[-1]["content"]
    assert "Related, but not an answer" in panel and 'id="related-1-1"' in panel


@pytest.mark.filterwarnings("ignore::UserWarning")  # gr.Warning outside a page request
def test_empty_and_oversized_questions_change_nothing(handlers: ChatHandlers) -> None:
    for question in ("", "   ", "x" * 5000):
        updates = list(handlers.respond(question, new_state()))
        assert len(updates) == 1 and all(u == gr.skip() for u in updates[0])


def test_thumbs_are_stored_with_question_answer_and_citations(handlers: ChatHandlers) -> None:
    state = new_state()
    for update in handlers.respond("When was the AI law signed?", state):
        state = update[2] if isinstance(update[2], dict) else state
    handlers.like(state, gr.LikeData(None, {"index": 1, "value": "…", "liked": False}))
    handlers.like(state, gr.LikeData(None, {"index": 0, "value": "…", "liked": True}))  # a user message: ignored
    rows = list(handlers.feedback.rows())
    assert len(rows) == 1
    row = rows[0]
    assert (row["rating"], row["question"], row["channel"]) == (-1, "When was the AI law signed?", "web")
    assert "17 November 2025" in row["answer"] and row["citations"][0]["quote"] in row["answer"]


def test_new_chat_resets_everything(handlers: ChatHandlers) -> None:
    messages, panel, state, box = handlers.clear()
    assert messages == [] and panel == render.EMPTY_PANEL and state == new_state() and box == ""
