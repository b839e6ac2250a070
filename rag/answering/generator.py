"""The generator interface every answerer implements, and the one rule they share: no support, no answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ..types import Answer, Turn
from .evidence import Evidence
from .messages import decline_text


class Generator(Protocol):
    """Turns supported evidence into an answer: text deltas (possibly none), then the final `Answer`."""

    def stream(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Iterator[str | Answer]: ...


def decline(evidence: Evidence) -> Answer:
    """The refusal: says so in the asker's language, names what the corpus lacks, shows the closest passages."""
    return Answer(
        text=decline_text(evidence.language, evidence.unknown_names, bool(evidence.passages)),
        citations=(),
        grounded=False,
        question=evidence.question,
        related=evidence.passages[:3],
        language=evidence.language,
    )


def respond(generator: Generator, evidence: Evidence, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
    """The generator's answer when the evidence step found support, else the refusal (the generator never runs)."""
    if not evidence.supported:
        yield decline(evidence)
        return
    yield from generator.stream(evidence, history)


def final_answer(parts: Iterator[str | Answer]) -> Answer:
    for part in parts:
        if isinstance(part, Answer):
            return part
    raise AssertionError("the generator ended without an answer")  # pragma: no cover
