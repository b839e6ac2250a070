"""Answering: the evidence step scores every sentence of the retrieved passages with a learned, calibrated
model and decides whether they answer the question; a generator (extractive quotes, or an LLM whose every
sentence is verified) then writes the answer with `[n]` citations."""

from .evidence import Candidate, Evidence, EvidenceStep
from .extractive import ExtractiveGenerator
from .generator import Generator, decline, final_answer, respond
from .scorer import SentenceScorer

__all__ = [
    "Candidate",
    "Evidence",
    "EvidenceStep",
    "ExtractiveGenerator",
    "Generator",
    "SentenceScorer",
    "decline",
    "final_answer",
    "respond",
]
