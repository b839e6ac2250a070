"""HTML for answers and their sources. Every piece of document text is escaped here, before it meets any markup.

Two outputs per answer:

* `answer_markdown` -- the chat message: the answer text, escaped for HTML *and* Markdown, with each `[n]`
  marker turned into a link `<a class="kz-cite" href="#cite-T-n">` that the page script resolves.
* `sources_section` -- one block of the sources panel: a `<details id="cite-T-n">` per citation with the
  document title, date, links to the original sources and the passage with the cited span in `<mark>`;
  for a declined answer, the closest passages under "Related, but not an answer".

`T` is the turn number, so markers of earlier answers keep pointing at their own sources.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from ..answering.messages import text as label
from ..text import CITATION_MARKER, HEADING_MARK, http_url
from ..types import Answer, Chunk, Citation, Passage

MARKER = CITATION_MARKER
# Characters Markdown (and KaTeX's `$$`) would interpret; a backslash makes each one literal (CommonMark).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")
PASSAGE_PREVIEW_CHARS = 1200


def esc(text: object) -> str:
    """HTML-escaped text, quotes included, safe in element content and attribute values."""
    return html.escape("" if text is None else str(text), quote=True)


def md_escape(text: str) -> str:
    """Text made inert for a Markdown + HTML renderer: Markdown punctuation backslashed, then HTML-escaped.

    (In this order, so that the `#` of an entity like `&#x27;` is not backslashed; `<`, `>` and `&` are
    left to the HTML escape: as entities they are plain text to Markdown.)
    """
    return esc(_MARKDOWN_SPECIAL.sub(r"\\\1", text))


def safe_url(url: object) -> str | None:
    """The URL if it is an http(s) link (`text.http_url`) that cannot leave an HTML attribute (no quotes or
    angle brackets; such a URL is dropped rather than repaired)."""
    url = http_url(url)
    return None if url is None or any(c in url for c in "\"'<>") else url


def anchor_id(turn: int, n: int) -> str:
    return f"cite-{turn}-{n}"


def cite_link(turn: int, n: int) -> str:
    return f'<a class="kz-cite" href="#{anchor_id(turn, n)}" title="Show source {n}">[{n}]</a>'


def answer_markdown(text: str, turn: int, citations: int) -> str:
    """The chat message for an answer (or a partial one while streaming): escaped text, markers as links."""
    out: list[str] = []
    last = 0
    for match in MARKER.finditer(text):
        n = int(match.group(1))
        if not 1 <= n <= citations:
            continue  # a literal "[7]" inside a quote is not one of ours: leave it as text
        out.append(md_escape(text[last : match.start()]))
        out.append(cite_link(turn, n))
        last = match.end()
    out.append(md_escape(text[last:]))
    return "".join(out)


def chat_message(answer: Answer, turn: int) -> str:
    """The final chat message: the answer with linked markers, and a short line when the engine declined."""
    body = answer_markdown(answer.text, turn, len(answer.citations))
    if not answer.grounded:
        lang = answer.language
        return (
            f'<span class="kz-declined-badge">{esc(label("not_found", lang))}</span>\n\n' + body + "\n\n"
            f'<a class="kz-cite kz-related-link" href="#turn-{turn}">{esc(label("see_related", lang))}</a>'
        )
    return body


def highlighted_passage(chunk: Chunk, start: int, end: int, limit: int = PASSAGE_PREVIEW_CHARS) -> str:
    """The chunk's text, escaped, with document offsets `[start, end)` wrapped in `<mark>`.

    Long passages are trimmed around the mark (with ellipses) so the cited span stays in view.
    """
    text = chunk.text
    lo = max(0, min(len(text), start - chunk.start))
    hi = max(lo, min(len(text), end - chunk.start))
    first, last = 0, len(text)
    room = max(0, limit - (hi - lo))
    if lo + (len(text) - hi) > room:
        keep_before = min(lo, room // 2)
        keep_after = min(len(text) - hi, room - keep_before)
        keep_before = min(lo, room - keep_after)
        first, last = lo - keep_before, hi + keep_after
    keep = _display_mask(text)
    return (
        ("…" if first > 0 else "")
        + _segment(text, keep, first, lo)
        + f'<mark class="kz-mark">{_segment(text, keep, lo, hi)}</mark>'
        + _segment(text, keep, hi, last)
        + ("…" if last < len(text) else "")
    )


def plain_passage(chunk: Chunk, limit: int = PASSAGE_PREVIEW_CHARS) -> str:
    text = chunk.text
    last = min(len(text), limit)
    return _segment(text, _display_mask(text), 0, last) + ("…" if last < len(text) else "")


_EXTRA_BREAK = re.compile(r"\n[ \t]*(?=\n)")


def _display_mask(text: str) -> list[bool]:
    """Which characters to show: Markdown heading marks (`# `) and extra blank lines are dropped.

    Display only, for a `white-space: pre-line` block; offsets are resolved on the original text.
    """
    keep = [True] * len(text)
    for pattern in (HEADING_MARK, _EXTRA_BREAK):
        for match in pattern.finditer(text):
            keep[match.start() : match.end()] = [False] * (match.end() - match.start())
    return keep


def _segment(text: str, keep: list[bool], start: int, end: int) -> str:
    return esc("".join(ch for ch, shown in zip(text[start:end], keep[start:end]) if shown))


def source_links(chunk: Chunk) -> str:
    """Links to the original sources of the chunk's document (`chunk.sources`, else its `url`)."""
    items: list[str] = []
    for source in chunk.sources:
        url = safe_url(getattr(source, "url", None))
        label = esc(getattr(source, "title", "") or url or "source")
        date = getattr(source, "date", "") or ""
        when = f' <span class="kz-muted">({esc(date)})</span>' if date else ""
        if url:
            items.append(
                f'<li><a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{label}</a>{when}</li>'
            )
        else:
            items.append(f"<li>{label}{when}</li>")
    if not items:
        url = safe_url(chunk.url)
        if url:
            items.append(
                f'<li><a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(url)}</a></li>'
            )
    if not items:
        return ""
    return f'<div class="kz-links"><span class="kz-label">Original source{"s" if len(items) > 1 else ""}</span><ul>{"".join(items)}</ul></div>'


def _where(chunk: Chunk, extra: Iterable[str] = ()) -> str:
    bits = [f"<code>{esc(chunk.source)}</code>"]
    if chunk.page:
        bits.append(f"p. {chunk.page}")
    bits.extend(extra)
    return f'<div class="kz-where">{" · ".join(bits)}</div>'


def citation_html(citation: Citation, turn: int, open_: bool = False) -> str:
    chunk = citation.chunk
    date = f'<span class="kz-date">{esc(citation.date)}</span>' if citation.date else ""
    return (
        f'<details class="kz-source" name="kz-sources-{turn}" id="{anchor_id(turn, citation.n)}" data-n="{citation.n}"'
        f"{' open' if open_ else ''}>"
        f'<summary><span class="kz-n">{citation.n}</span><span class="kz-title">{esc(citation.title or chunk.source)}</span>{date}</summary>'
        f'<div class="kz-body">'
        f'<blockquote class="kz-passage">{highlighted_passage(chunk, citation.start, citation.end)}</blockquote>'
        f"{source_links(chunk)}"
        f"{_where(chunk, [f'chars {citation.start:,}–{citation.end:,}'])}"
        f"</div></details>"
    )


def related_html(passage: Passage, turn: int, i: int, open_: bool = False) -> str:
    chunk = passage.chunk
    date = f'<span class="kz-date">{esc(chunk.date)}</span>' if chunk.date else ""
    return (
        f'<details class="kz-source kz-related" name="kz-sources-{turn}" id="related-{turn}-{i}"{" open" if open_ else ""}>'
        f'<summary><span class="kz-n kz-n-related">~</span><span class="kz-title">{esc(chunk.title or chunk.source)}</span>{date}</summary>'
        f'<div class="kz-body"><blockquote class="kz-passage">{plain_passage(chunk)}</blockquote>'
        f"{source_links(chunk)}{_where(chunk)}</div></details>"
    )


def sources_section(answer: Answer, turn: int, *, latest: bool = True) -> str:
    """The sources panel's block for one answer (a `<details>` itself, open for the latest answer)."""
    question = esc(answer.question)
    lang = answer.language
    if answer.grounded and answer.citations:
        count = len(answer.citations)
        head = f"{count} source{'s' if count != 1 else ''}" if lang in ("", "en") else esc(label("source_count", lang).format(n=count))
        body = "".join(citation_html(c, turn, open_=latest and c.n == 1) for c in answer.citations)
    else:
        head = esc(label("no_answer", lang))
        related = "".join(related_html(p, turn, i, open_=latest and i == 1) for i, p in enumerate(answer.related, 1))
        body = (
            f'<div class="kz-declined"><strong>{esc(label("not_found", lang))}.</strong> {esc(label("related_note", lang))}</div>'
            + (f'<h4 class="kz-related-head">{esc(label("related_head", lang))}</h4>{related}' if related else "")
        )
    body += "".join(f'<div class="kz-note">{esc(note)}</div>' for note in answer.notes)
    return (
        f'<details class="kz-turn" id="turn-{turn}" data-turn="{turn}"{" open" if latest else ""}>'
        f'<summary><span class="kz-q">{question}</span><span class="kz-count">{head}</span></summary>'
        f'<div class="kz-turn-body">{body}</div></details>'
    )


EMPTY_PANEL = (
    '<div class="kz-panel kz-empty"><p><strong>Sources appear here.</strong></p>'
    "<p>Every sentence of an answer is quoted from a document and marked <span class='kz-cite-demo'>[1]</span>. "
    "Click a marker to see the passage with the cited words highlighted.</p></div>"
)


def sources_panel(sections: Sequence[str]) -> str:
    """The whole panel: newest answer first."""
    if not sections:
        return EMPTY_PANEL
    return '<div class="kz-panel">' + "".join(reversed(sections)) + "</div>"

