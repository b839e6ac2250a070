"""Answers as Slack Block Kit and as plain webhook text, with every document-derived string escaped.

Slack reads `<...>` as control sequences: `<!channel>` pings a channel, `<@U123>` mentions someone,
`<https://x|label>` makes a link. A corpus document must never be able to do any of that, so every piece of
text that comes from a document (answer sentences, titles, quotes, dates, source names) goes through
`escape()` (`&`, `<`, `>` as HTML entities, the only escaping Slack knows), bare `@channel`-style words are
broken with a zero-width space (Mattermost and Rocket.Chat treat them as mentions), and links are only built
from `http(s)` URLs with `|`, `<`, `>` and spaces percent-encoded.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ..text import CITATION_MARKER, HEADING_LINE, http_url
from ..types import Answer, Citation, Passage, Source

HELPFUL = "rag_feedback_helpful"
NOT_HELPFUL = "rag_feedback_not_helpful"
FEEDBACK_ACTIONS = (HELPFUL, NOT_HELPFUL)
SOURCES_MARK = "\n\nSources:"  # separates the answer from its sources in the fallback text (see answer_only)

MAX_SECTION = 2900  # a section's text may hold 3000 characters
MAX_FALLBACK = 3900  # Slack truncates message text after 4000 characters
QUOTE_CHARS = 280
SNIPPET_CHARS = 220
_ZWSP = "\u200b"

_AT_WORD = re.compile(r"(?<![\w.+-])@(?=\w)")  # "@channel", "@here", "@alice" but not "me@example.org"


def escape(text: Any) -> str:
    """Document text made inert for Slack mrkdwn (and for Mattermost / Rocket.Chat markdown)."""
    value = "" if text is None else str(text)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _AT_WORD.sub("@" + _ZWSP, value)


def safe_url(url: Any) -> str | None:
    """The URL ready to go inside `<url|label>`, or None unless it is a plain http(s) URL."""
    url = http_url(url)
    if url is None:
        return None
    url = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", url)  # a stray % (existing %xx escapes are kept)
    for raw, encoded in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), ('"', "%22"), ("`", "%60")):
        url = url.replace(raw, encoded)
    return url.replace("&", "&amp;")


def link(url: Any, label: Any) -> str:
    """`<url|label>` when `url` is a safe http(s) URL, else just the escaped label."""
    target = safe_url(url)
    text = escape(label).replace("|", "¦") or (target or "")
    return f"<{target}|{text}>" if target else text


def plain_url(url: Any) -> str | None:
    """A safe http(s) URL for plain text (no Slack link syntax): the same encoding, entities undone."""
    target = safe_url(url)
    return html.unescape(target) if target else None


def shorten(text: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def slack_to_plain(text: str, bot_user_id: str | None = None) -> str:
    """A user's Slack message as a plain question: mentions of the bot removed, links and entities undone."""
    text = text or ""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    else:  # a leading mention is the bot's in an app_mention event
        text = re.sub(r"^\s*<@[UW][A-Z0-9]+(\|[^>]*)?>", " ", text)
    text = re.sub(r"<@[UW][A-Z0-9]+\|([^>]*)>", r"@\1", text)
    text = re.sub(r"<@[UW][A-Z0-9]+>", " ", text)
    text = re.sub(r"<#C[A-Z0-9]+\|([^>]*)>", r"#\1", text)
    text = re.sub(r"<!(?:subteam\^[A-Z0-9]+\|)?([^>|]*)(\|[^>]*)?>", " ", text)
    text = re.sub(r"<((?:https?|mailto):[^>|]+)\|([^>]*)>", r"\2", text)
    text = re.sub(r"<((?:https?|mailto):[^>|]+)>", r"\1", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def answer_only(message_text: str) -> str:
    """The answer part of one of our own messages (the fallback text minus its sources)."""
    return (message_text or "").split(SOURCES_MARK, 1)[0]


# --- pieces -------------------------------------------------------------------------------------------------
def _sources_of(citation_or_passage: Citation | Passage) -> tuple[Source, ...]:
    chunk = citation_or_passage.chunk
    sources = tuple(s for s in chunk.sources if isinstance(s, Source))
    if sources:
        return sources
    if safe_url(chunk.url):
        return (Source(title=chunk.title, url=str(chunk.url), date=chunk.date or ""),)
    return ()


def _source_links(item: Citation | Passage) -> str:
    links = [link(s.url, s.title or s.url) + (f" ({escape(s.date)})" if s.date else "") for s in _sources_of(item)]
    if links:
        return " · ".join(links)
    name = escape(item.chunk.source).replace("`", "'")
    return f"`{name}`"


def _quote(text: str, limit: int) -> str:
    return "> " + escape(shorten(text, limit))


def answer_mrkdwn(answer: Answer) -> str:
    """The answer text, escaped, with `[n]` markers bold (or linked to the cited source when it has a URL)."""
    by_n = {c.n: c for c in answer.citations}

    def marker(match: re.Match[str]) -> str:
        citation = by_n.get(int(match.group(1)))
        if citation is None:
            return match.group(0)
        sources = _sources_of(citation)
        target = safe_url(sources[0].url) if sources else None
        return f"<{target}|[{citation.n}]>" if target else f"*[{citation.n}]*"

    text = escape(answer.text)
    if len(text) > MAX_SECTION:
        text = text[: MAX_SECTION - 1].rsplit(" ", 1)[0] + "…"
    return CITATION_MARKER.sub(marker, text)


def citation_mrkdwn(citation: Citation) -> str:
    head = f"*[{citation.n}]* *{escape(citation.title)}*"
    if citation.date:
        head += f" · {escape(citation.date)}"
    if citation.page:
        head += f" · p. {citation.page}"
    return f"{head}\n{_source_links(citation)}\n{_quote(citation.quote, QUOTE_CHARS)}"


def related_mrkdwn(passage: Passage) -> str:
    head = f"• *{escape(passage.title)}*"
    if passage.chunk.date:
        head += f" · {escape(passage.chunk.date)}"
    snippet = HEADING_LINE.sub(" ", passage.text)  # a chunk may start with its document's "# Title" line
    return f"{head}\n{_source_links(passage)}\n{_quote(snippet, SNIPPET_CHARS)}"


def feedback_value(answer_id: str, question: str) -> str:
    """The buttons' value (at most 2000 characters): the answer's id, and the question in case it is forgotten."""
    return json.dumps({"id": answer_id, "q": shorten(question, 400)}, ensure_ascii=False)


# --- whole messages ------------------------------------------------------------------------------------------
def answer_blocks(answer: Answer, answer_id: str | None = None) -> list[dict[str, Any]]:
    """Block Kit: the answer, one section per cited source (or the closest passages), feedback buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "block_id": "answer", "text": {"type": "mrkdwn", "text": answer_mrkdwn(answer) or " "}}
    ]
    if answer.grounded and answer.citations:
        blocks.append(
            {"type": "context", "block_id": "sources_title", "elements": [{"type": "mrkdwn", "text": "*Sources*"}]}
        )
        for citation in answer.citations[:20]:
            blocks.append(
                {
                    "type": "section",
                    "block_id": f"source_{citation.n}",
                    "text": {"type": "mrkdwn", "text": citation_mrkdwn(citation)[:MAX_SECTION]},
                }
            )
    elif answer.related:
        blocks.append(
            {
                "type": "context",
                "block_id": "related_title",
                "elements": [
                    {"type": "mrkdwn", "text": "*Closest passages* (related, but they do not answer the question)"}
                ],
            }
        )
        for i, passage in enumerate(answer.related[:5], 1):
            blocks.append(
                {
                    "type": "section",
                    "block_id": f"related_{i}",
                    "text": {"type": "mrkdwn", "text": related_mrkdwn(passage)[:MAX_SECTION]},
                }
            )
    if answer_id:
        value = feedback_value(answer_id, answer.question)
        blocks.append(
            {
                "type": "actions",
                "block_id": "feedback",
                "elements": [
                    {
                        "type": "button",
                        "action_id": HELPFUL,
                        "text": {"type": "plain_text", "text": ":thumbsup: Helpful", "emoji": True},
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": NOT_HELPFUL,
                        "text": {"type": "plain_text", "text": ":thumbsdown: Not helpful", "emoji": True},
                        "value": value,
                    },
                ],
            }
        )
    return blocks


def answer_fallback(answer: Answer) -> str:
    """The message's `text`: shown in notifications and by clients without Block Kit (mrkdwn, escaped)."""
    lines = [answer_mrkdwn(answer)]
    if answer.grounded and answer.citations:
        lines.append(SOURCES_MARK.lstrip("\n"))
        for c in answer.citations:
            url = next((safe_url(s.url) for s in _sources_of(c) if safe_url(s.url)), None)
            lines.append(
                f"[{c.n}] {escape(c.title)}" + (f" ({escape(c.date)})" if c.date else "") + (f" <{url}>" if url else "")
            )
    text = "\n".join(lines[:1]) + ("\n\n" + "\n".join(lines[1:]) if len(lines) > 1 else "")
    return text[:MAX_FALLBACK]


def answer_plain(answer: Answer) -> str:
    """Plain text for Slack-compatible outgoing webhooks (Mattermost, Rocket.Chat): answer, then sources."""
    lines = [escape(answer.text)]
    if answer.grounded and answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            head = f"[{c.n}] {escape(c.title)}" + (f" ({escape(c.date)})" if c.date else "")
            urls = [u for u in (plain_url(s.url) for s in _sources_of(c)) if u]
            lines.append(head + (" " + " ".join(urls) if urls else ""))
            lines.append(f"    “{escape(shorten(c.quote, QUOTE_CHARS))}”")
    elif answer.related:
        lines.append("")
        lines.append("Closest passages (related, but not an answer):")
        for p in answer.related[:3]:
            urls = [u for u in (plain_url(s.url) for s in _sources_of(p)) if u]
            lines.append(f"- {escape(p.title)}" + (" " + " ".join(urls) if urls else ""))
    return "\n".join(lines)[:MAX_FALLBACK]


def notice_blocks(text: str) -> list[dict[str, Any]]:
    """A one-section message (apologies, usage hints). `text` must already be safe mrkdwn."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}]
