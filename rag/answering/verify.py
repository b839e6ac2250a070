"""Verification of an LLM's draft answer: every sentence must be supported by a passage it cites.

A draft is split into sentences, and each one is checked on its own:

1. its `[n]` markers are read; markers that point to no passage are removed;
2. facts: every number, date (month, year) and capitalised name of the sentence must occur in the cited
   passage(s) (text or title);
3. meaning: the sentence must be close to a sentence of the cited passage (cosine similarity of the
   multilingual model's vectors, at least `threshold`, so an answer in German or Russian verifies against an
   English passage); cited passages that are not close lose their marker;
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

from ..embedder import Embedder
from ..text import NUMBER, content_terms, digits, is_heading, sentence_spans, word_count
from ..types import Citation, Passage
from .drafts import META, facts_of, is_instruction, split_draft, unecho

log = logging.getLogger(__name__)

UNVERIFIED = "(unverified)"
# Unsupported sentences that even verify_mode=flag does not show.
_NEVER_SHOWN = ("too short to state a fact", "addresses the model", "talks about the prompt, not the subject")


class _Source:
    """What a passage can vouch for: its text without model-addressed sentences, and its quotable sentences."""

    def __init__(self, passage: Passage) -> None:
        chunk = passage.chunk
        self.passage = passage
        spans = sentence_spans(chunk.text)
        kept = [(a, b) for a, b in spans if not is_instruction(chunk.text[a:b])]
        self.text = chunk.title + "\n" + "\n".join(chunk.text[a:b] for a, b in kept)
        self.lower = self.text.lower()
        self.numbers = {digits(m.group(0)) for m in NUMBER.finditer(self.text)}
        self.initials = _initials(self.text)
        self.sentences = [(a, b) for a, b in kept if word_count(chunk.text[a:b]) >= 3 and not is_heading(chunk.text[a:b])]
        if not self.sentences:  # a passage of headings or fragments: let its longest piece stand for it
            self.sentences = sorted(kept, key=lambda s: s[1] - s[0], reverse=True)[:1]

    def missing(self, facts: Sequence[str]) -> list[str]:
        return [f for f in facts if not self.has(f)]

    def has(self, fact: str) -> bool:
        if fact[0].isdigit():
            return digits(fact) in self.numbers
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

    def __init__(self, embedder: Embedder, threshold: float = 0.87, mode: Literal["drop", "flag"] = "drop") -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.mode = mode

    def check(self, draft: str, passages: Sequence[Passage]) -> list[Check]:
        parts = [(unecho(text, passages), cited) for text, cited in split_draft(draft)]
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
        if META.search(text):
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
            absent = [f for f in facts if all(not sources[i].has(f) for i in valid)]
            if absent or close:  # a fact the cited passages lack says more than a similarity score
                reason = "the cited passage does not mention " + ", ".join(repr(f) for f in (absent or missing))
            else:
                top = max((best[i][0] for i in valid if i in best), default=0.0)
                reason = f"not close enough to the cited passage ({top:.2f} < {self.threshold:.2f})"
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
