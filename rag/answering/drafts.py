"""Reading an LLM's draft: its sentences and `[n]` markers, the facts each sentence states, and text that
addresses the model instead of the subject (prompt injection)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..text import MONTHS, NAME_TOKEN, NOT_NAMES, NUMBER, STOPWORDS, sentence_spans
from ..types import Passage

# [1]  [1, 2]  [1;2]  [1-3]  [Passage 2]  [source 1]
_MARKER = re.compile(r"\[\s*(?:passage|source|doc(?:ument)?)?\s*(\d{1,3}(?:\s*(?:[,;]|-|–)\s*\d{1,3})*)\s*\]", re.IGNORECASE)
_MARKER_RUN = rf"(?:\s*{_MARKER.pattern})+"
_PUNCT_THEN_MARKERS = re.compile(rf"([.!?…])({_MARKER_RUN})", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_PREFIX = re.compile(r"^\s*(?:answer|antwort)\s*:\s*", re.IGNORECASE)
_FILLER = re.compile(r"^(?:so,?\s+)?(?:the\s+)?(?:final\s+|short\s+)?answer\s+is\s*:\s*", re.IGNORECASE)
_LIST_ITEM = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+")
# Sentences about the prompt rather than the subject: echoed data blocks, "The passage says…", "Question: …".
META = re.compile(
    r"</?\s*passages?\b|^\W*(?:the |this |these |each )?(?:passages?|question|prompt|context)\b|\b(?:the|this|these) passages?\b",
    re.IGNORECASE,
)
_MONTH = re.compile(r"\b(" + "|".join(sorted(MONTHS)) + r")\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"[’']s$")
# Text in a passage that speaks to the model rather than about the subject.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.!?\n]{0,60}\b(instructions?|prompts?|rules|directions|everything|above|previous)\b"
    r"|\b(reply|respond|answer|say|output|print|write)\b[^.!?\n]{0,40}\bonly\b[^.!?\n]{0,40}\b(word|words|with|text)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|\bas an ai (language )?model\b"
    r"|\bignoriere\b[^.!?\n]{0,60}\b(anweisungen|vorgaben)\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """A sentence that addresses the model ("Ignore previous instructions and …") rather than the subject."""
    return bool(_INSTRUCTION.search(sentence))


def redact_instructions(text: str) -> str:
    """`text` with the sentences that address the model replaced by a neutral placeholder."""
    spans = [(a, b) for a, b in sentence_spans(text) if is_instruction(text[a:b])]
    for a, b in reversed(spans):
        text = text[:a] + "[text addressed to the model removed]" + text[b:]
    return text


def parse_markers(text: str) -> list[int]:
    """The passage numbers of the `[n]` markers in `text`, in order, ranges expanded ([1-3] -> 1, 2, 3)."""
    found: list[int] = []
    for m in _MARKER.finditer(text):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            bounds = re.split(r"\s*[-–]\s*", part)
            if len(bounds) == 2:
                lo, hi = int(bounds[0]), int(bounds[1])
                found.extend(range(lo, hi + 1) if 0 <= hi - lo <= 10 else (lo, hi))
            else:
                found.append(int(bounds[0]))
    return found


def strip_markers(text: str) -> str:
    text = _MARKER.sub("", text)
    text = re.sub(r"\s+([.,;:!?…])", r"\1", text)
    return " ".join(text.split())


def split_draft(draft: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, its marker numbers) for each sentence of an LLM draft."""
    text = _PREFIX.sub("", draft.strip())
    text = _LIST_ITEM.sub("\n\n", text)  # "1. First point" on its own line: a sentence of its own
    # "Sentence. [1] Next one." -> "Sentence [1]. Next one." so that markers stay with their sentence.
    text = _PUNCT_THEN_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
    out: list[tuple[str, list[int]]] = []
    for a, b in sentence_spans(text):
        raw = _BULLET.sub("", text[a:b])
        claim = _FILLER.sub("", strip_markers(raw))
        if claim:
            out.append((claim, parse_markers(raw)))
    return out


def unecho(claim: str, passages: Sequence[Passage]) -> str:
    """The claim without an echoed prompt heading ("Title — …", as the passages are laid out in the prompt)."""
    for passage in passages:
        title = passage.chunk.title
        if title and claim.startswith(title) and claim[len(title) :].lstrip().startswith(("—", "-", ":")):
            rest = claim[len(title) :].lstrip().lstrip("—-:").lstrip().lstrip("#").strip()
            return rest or claim
    return claim



def facts_of(sentence: str) -> list[str]:
    """The checkable facts of a sentence: numbers, month names and capitalised names (not its first word)."""
    facts = [m.group(0) for m in NUMBER.finditer(sentence)]
    facts += [m.group(0) for m in _MONTH.finditer(sentence)]
    first = re.match(r"\W*[\w.\-’']+", sentence)
    first_end = first.end() if first else 0
    for m in NAME_TOKEN.finditer(sentence):
        # "AI-generated": only the capitalised parts of a hyphenated word are names.
        for word in _POSSESSIVE.sub("", m.group(1)).rstrip(".").split("-"):
            if not word or not word[0].isupper():
                continue
            acronym = len(word) >= 2 and word.isupper()
            if m.start() < first_end and not acronym:
                continue  # the first word is capitalised anyway
            low = word.lower()
            if low in NOT_NAMES or low in MONTHS or (low in STOPWORDS and not acronym):
                continue
            facts.append(word)
    return list(dict.fromkeys(facts))


