"""Verification of an LLM's draft answer: every sentence must be supported by a passage it cites.

A draft is split into sentences, and each one is checked on its own:

1. its `[n]` markers are read; markers that point to no passage are removed;
2. facts: every number, date (month, year) and capitalised name of the sentence must occur in the cited
   passage(s) (text or title);
3. meaning: the sentence must be close to a sentence of the cited passage (cosine similarity of sentence
   embeddings, at least `threshold`); cited passages that are not close lose their marker;
4. a sentence without a (valid, supporting) marker is checked against every passage and gets the marker of
   the best one that passes.

A sentence that fails is dropped (`mode="drop"`) or kept with a visible "(unverified)" tag (`mode="flag"`).
Each kept sentence cites, for every supporting passage, that passage's sentence closest to it: the quote is an
exact slice of the document (`Citation.start/end` are absolute offsets), so a UI can highlight it. Markers are
renumbered 1..n in order of appearance.

Passage sentences that address the model ("ignore previous instructions…") are never evidence: they are
redacted from the prompt (see `redact_instructions`) and cannot support or be quoted for a sentence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .embedder import Embedder
from .text import _STOPWORDS, content_terms, is_heading, sentence_spans, word_count
from .types import Citation, Passage

log = logging.getLogger(__name__)

UNVERIFIED = "(unverified)"
# Unsupported sentences that even verify_mode=flag does not show.
_NEVER_SHOWN = ("too short to state a fact", "addresses the model", "talks about the prompt, not the subject")
# [1]  [1, 2]  [1;2]  [1-3]  [Passage 2]  [source 1]
_MARKER = re.compile(r"\[\s*(?:passage|source|doc(?:ument)?)?\s*(\d{1,3}(?:\s*(?:[,;]|-|–)\s*\d{1,3})*)\s*\]", re.IGNORECASE)
_MARKER_RUN = rf"(?:\s*{_MARKER.pattern})+"
_PUNCT_THEN_MARKERS = re.compile(rf"([.!?…])({_MARKER_RUN})", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_PREFIX = re.compile(r"^\s*(?:answer|antwort)\s*:\s*", re.IGNORECASE)
_FILLER = re.compile(r"^(?:so,?\s+)?(?:the\s+)?(?:final\s+|short\s+)?answer\s+is\s*:\s*", re.IGNORECASE)
_LIST_ITEM = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+")
# Sentences about the prompt rather than the subject: echoed data blocks, "The passage says…", "Question: …".
_META = re.compile(
    r"</?\s*passages?\b|^\W*(?:the |this |these |each )?(?:passages?|question|prompt|context)\b|\b(?:the|this|these) passages?\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "januar", "jänner", "februar", "märz", "mai", "juni", "juli", "oktober", "dezember"]
_MONTH = re.compile(r"\b(" + "|".join(_MONTHS) + r")\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![\w.])([A-ZÄÖÜА-ЯЁ][\w.\-’']*\w|[A-ZÄÖÜА-ЯЁ])")
_POSSESSIVE = re.compile(r"[’']s$")
# Words that are capitalised for other reasons than being names.
_NOT_NAMES = frozenset(["i", "i'm", "i've", "passage", "passages", "source", "sources", "document", "documents"])
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


def _unecho(claim: str, passages: Sequence[Passage]) -> str:
    """The claim without an echoed prompt heading ("Title — …", as the passages are laid out in the prompt)."""
    for passage in passages:
        title = passage.chunk.title
        if title and claim.startswith(title) and claim[len(title) :].lstrip().startswith(("—", "-", ":")):
            rest = claim[len(title) :].lstrip().lstrip("—-:").lstrip().lstrip("#").strip()
            return rest or claim
    return claim


def _digits(token: str) -> str:
    return re.sub(r"\D", "", token)


def facts_of(sentence: str) -> list[str]:
    """The checkable facts of a sentence: numbers, month names and capitalised names (not its first word)."""
    facts = [m.group(0) for m in _NUMBER.finditer(sentence)]
    facts += [m.group(0) for m in _MONTH.finditer(sentence)]
    first = re.match(r"\W*[\w.\-’']+", sentence)
    first_end = first.end() if first else 0
    for m in _NAME.finditer(sentence):
        # "AI-generated": only the capitalised parts of a hyphenated word are names.
        for word in _POSSESSIVE.sub("", m.group(1)).rstrip(".").split("-"):
            if not word or not word[0].isupper():
                continue
            acronym = len(word) >= 2 and word.isupper()
            if m.start() < first_end and not acronym:
                continue  # the first word is capitalised anyway
            low = word.lower()
            if low in _NOT_NAMES or low in _MONTHS or (low in _STOPWORDS and not acronym):
                continue
            facts.append(word)
    return list(dict.fromkeys(facts))


class _Source:
    """What a passage can vouch for: its text without model-addressed sentences, and its quotable sentences."""

    def __init__(self, passage: Passage) -> None:
        chunk = passage.chunk
        self.passage = passage
        spans = sentence_spans(chunk.text)
        kept = [(a, b) for a, b in spans if not is_instruction(chunk.text[a:b])]
        self.text = chunk.title + "\n" + "\n".join(chunk.text[a:b] for a, b in kept)
        self.lower = self.text.lower()
        self.numbers = {_digits(m.group(0)) for m in _NUMBER.finditer(self.text)}
        self.initials = _initials(self.text)
        self.sentences = [(a, b) for a, b in kept if word_count(chunk.text[a:b]) >= 3 and not is_heading(chunk.text[a:b])]
        if not self.sentences:  # a passage of headings or fragments: let its longest piece stand for it
            self.sentences = sorted(kept, key=lambda s: s[1] - s[0], reverse=True)[:1]

    def missing(self, facts: Sequence[str]) -> list[str]:
        return [f for f in facts if not self.has(f)]

    def has(self, fact: str) -> bool:
        if fact[0].isdigit():
            return _digits(fact) in self.numbers
        if re.search(r"(?<!\w)" + re.escape(fact.lower()), self.lower):
            return True
        return len(fact) >= 2 and fact.isupper() and fact.lower() in self.initials


def _initials(text: str) -> set[str]:
    """Acronyms the text spells out: "artificial intelligence" -> "ai"."""
    words = [w.lower() for w in re.findall(r"[A-Za-zÄÖÜäöü]+", text) if w.lower() not in ("of", "and", "for", "the", "on")]
    found: set[str] = set()
    for size in (2, 3, 4):
        for i in range(len(words) - size + 1):
            found.add("".join(w[0] for w in words[i : i + size]))
    return found


@dataclass(frozen=True)
class Check:
    """The verdict on one sentence of a draft."""

    text: str  # the sentence, markers removed
    cited: tuple[int, ...]  # the draft's markers (1-based passage numbers), bad ones included
    supported_by: tuple[int, ...] = ()  # 0-based passage indices that support it; empty: unsupported
    quotes: tuple[tuple[int, int], ...] = ()  # per supporting passage: (start, end) in its chunk text
    similarity: float = 0.0
    reason: str = ""  # why it is unsupported

    @property
    def ok(self) -> bool:
        return bool(self.supported_by)


@dataclass(frozen=True)
class Verified:
    """A verified answer: `text` with markers 1..n, `citations[n-1]` for `[n]`."""

    text: str
    citations: tuple[Citation, ...]
    dropped: tuple[str, ...]
    flagged: tuple[str, ...]
    checks: tuple[Check, ...] = field(default=(), repr=False)

    @property
    def supported(self) -> int:
        return sum(c.ok for c in self.checks)


class Verifier:
    """Checks drafts against the passages they were written from."""

    def __init__(self, embedder: Embedder, threshold: float = 0.65, mode: Literal["drop", "flag"] = "drop") -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.mode = mode

    def check(self, draft: str, passages: Sequence[Passage]) -> list[Check]:
        parts = [(_unecho(text, passages), cited) for text, cited in split_draft(draft)]
        if not parts or not passages:
            return [Check(text, tuple(cited), reason="no passages") for text, cited in parts]
        sources = [_Source(p) for p in passages]
        claims = [text for text, _ in parts]
        # One batch: the claims, then every quotable sentence (bare and with its title, the better counts).
        pieces: list[tuple[int, int, int]] = [(i, a, b) for i, s in enumerate(sources) for a, b in s.sentences]
        texts = claims + [sources[i].passage.chunk.text[a:b] for i, a, b in pieces]
        texts += [f"{sources[i].passage.chunk.title}: {sources[i].passage.chunk.text[a:b]}" for i, a, b in pieces]
        vectors = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
        claim_vecs, bare, titled = vectors[: len(claims)], vectors[len(claims) : len(claims) + len(pieces)], vectors[len(claims) + len(pieces) :]
        sims = np.maximum(claim_vecs @ bare.T, claim_vecs @ titled.T) if pieces else np.zeros((len(claims), 0))

        checks: list[Check] = []
        seen: list[set[str]] = []
        for row, (text, cited) in enumerate(parts):
            terms = content_terms(text)
            if any(terms and len(terms & t) / len(terms | t) > 0.8 for t in seen):
                log.debug("verify: repeated sentence skipped: %r", text)
                continue
            seen.append(terms)
            best: dict[int, tuple[float, int, int]] = {}  # passage -> (similarity, start, end) of its closest sentence
            for col, (i, a, b) in enumerate(pieces):
                sim = float(sims[row, col])
                if i not in best or sim > best[i][0]:
                    best[i] = (sim, a, b)
            checks.append(self._judge(text, tuple(cited), sources, best))
        return checks

    def _judge(self, text: str, cited: tuple[int, ...], sources: list[_Source], best: dict[int, tuple[float, int, int]]) -> Check:
        if word_count(text) < 3:
            return Check(text, cited, reason="too short to state a fact")
        if is_instruction(text):
            return Check(text, cited, reason="addresses the model")
        if _META.search(text):
            return Check(text, cited, reason="talks about the prompt, not the subject")
        if text.rstrip().endswith("?"):
            return Check(text, cited, reason="a question, not a statement")
        facts = facts_of(text)
        valid = [n - 1 for n in dict.fromkeys(cited) if 1 <= n <= len(sources)]
        close = [i for i in valid if i in best and best[i][0] >= self.threshold]
        reason = ""
        if valid:
            missing = [f for f in facts if all(not sources[i].has(f) for i in close)] if close else facts
            if close and not missing:
                return self._supported(text, cited, close, best)
            if not close:
                top = max((best[i][0] for i in valid if i in best), default=0.0)
                reason = f"not close enough to the cited passage ({top:.2f} < {self.threshold:.2f})"
            else:
                reason = "the cited passage does not mention " + ", ".join(repr(f) for f in missing)
        # No (supporting) marker: the closest single passage that holds every fact. (Only the LLM's own markers
        # may combine passages: joining facts from passages it did not cite invites false combinations.)
        near = sorted((i for i in best if best[i][0] >= self.threshold), key=lambda i: -best[i][0])
        fitting = [i for i in near if not sources[i].missing(facts)]
        if fitting:
            return self._supported(text, cited, fitting[:1], best)
        if near and not reason:
            reason = "no passage close to it mentions " + ", ".join(repr(f) for f in sources[near[0]].missing(facts))
        top = max((v[0] for v in best.values()), default=0.0)
        if not reason:
            reason = f"no passage is close enough ({top:.2f} < {self.threshold:.2f})"
        return Check(text, cited, reason=reason, similarity=top)

    @staticmethod
    def _supported(text: str, cited: tuple[int, ...], indices: list[int], best: dict[int, tuple[float, int, int]]) -> Check:
        return Check(
            text,
            cited,
            supported_by=tuple(indices),
            quotes=tuple((best[i][1], best[i][2]) for i in indices),
            similarity=max(best[i][0] for i in indices),
        )

    def verify(self, draft: str, passages: Sequence[Passage], complete: bool = True) -> Verified:
        """The verified answer. `complete=False` (generation hit its token limit) drops an unfinished last sentence."""
        checks = self.check(draft, passages)
        if not complete and checks and not re.search(r"[.!?…\"”»)]$", checks[-1].text):
            checks[-1] = Check(checks[-1].text, checks[-1].cited, reason="unfinished (the token limit was reached)")
        checks = self._lead_in(checks)
        numbers: dict[tuple[int, int], int] = {}
        citations: list[Citation] = []
        sentences: list[str] = []
        dropped: list[str] = []
        flagged: list[str] = []
        for check in checks:
            if not check.ok:
                log.info("verify: unsupported sentence (%s): %r", check.reason, check.text[:200])
                if self.mode == "flag" and check.reason not in _NEVER_SHOWN:
                    flagged.append(check.text)
                    sentences.append(f"{_terminated(check.text)} {UNVERIFIED}")
                else:
                    dropped.append(check.text)
                continue
            marks: list[int] = []
            for i, (a, b) in zip(check.supported_by, check.quotes):
                passage = passages[i]
                key = (i, a)
                if key not in numbers:
                    numbers[key] = len(numbers) + 1
                    chunk = passage.chunk
                    citations.append(
                        Citation(
                            n=numbers[key],
                            chunk=chunk,
                            quote=chunk.text[a:b],
                            start=chunk.start + a,
                            end=chunk.start + b,
                            score=check.similarity,
                        )
                    )
                if numbers[key] not in marks:
                    marks.append(numbers[key])
            sentences.append(_terminated(check.text) + " " + "".join(f"[{n}]" for n in marks))
        return Verified(" ".join(sentences), tuple(citations), tuple(dropped), tuple(flagged), tuple(checks))

    def _lead_in(self, checks: list[Check]) -> list[Check]:
        """A last supported sentence that ends in ":" introduced a list that did not hold up: drop it too."""
        kept = [i for i, c in enumerate(checks) if c.ok]
        while kept and checks[kept[-1]].text.rstrip().endswith(":"):
            i = kept.pop()
            checks[i] = Check(checks[i].text, checks[i].cited, reason="a lead-in whose list was not supported")
        return checks


def _terminated(sentence: str) -> str:
    return sentence if re.search(r"[.!?…:\"”»)]$", sentence) else sentence + "."
