"""Follow-up questions: turning "and when did it take effect?" into a standalone retrieval query."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .errors import InvalidQuestion
from .text import content_terms
from .types import Turn

_ANAPHORA = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|he|she|his|her|there|then|same|"
    r"es|sie|er|dies|diese|dieser|dieses|das|dort|damals|ihr|ihre|sein|seine|"
    r"он|она|оно|они|его|её|ее|их|это|этот|эта|эти|там|тогда)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(and|but|also|what about|how about|und|aber|auch|was ist mit|и|а|но|также|а как же)\b", re.IGNORECASE)
_SHORT_TERMS = 2


def as_turns(history: Iterable) -> tuple[Turn, ...]:  # type: ignore[type-arg]
    """Accepts Turn objects, (user, assistant) pairs or {"user", "assistant"} / {"role", "content"} dicts."""
    turns: list[Turn] = []
    pending_user: str | None = None
    for item in history or ():
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, dict) and "role" in item:
            if item["role"] == "user":
                pending_user = str(item.get("content") or "")
            elif item["role"] == "assistant" and pending_user is not None:
                turns.append(Turn(pending_user, str(item.get("content") or "")))
                pending_user = None
        elif isinstance(item, dict):
            turns.append(Turn(str(item.get("user") or ""), str(item.get("assistant") or "")))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            turns.append(Turn(str(item[0] or ""), str(item[1] or "")))
        else:
            raise InvalidQuestion(
                f"history items must be [user, assistant] pairs or {{'role', 'content'}} messages, not {item!r}"
            )
    if pending_user:
        turns.append(Turn(pending_user, ""))
    return tuple(turns)


def needs_context(question: str) -> bool:
    """A question that leans on the previous turn: a pronoun, a continuation word, or almost no content terms."""
    return bool(_ANAPHORA.search(question) or _CONTINUATION.search(question)) or len(content_terms(question)) <= _SHORT_TERMS


def standalone_query(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query: the question plus the previous question's terms when it is a follow-up."""
    previous = next((t.user for t in reversed(history) if t.user.strip()), "")
    if not previous or not needs_context(question):
        return question
    return f"{question} {previous}"
