"""Retrieval-augmented answers about Kazakhstan's AI strategy, with verified citations.

    from rag import Assistant
    answer = Assistant().ask("When was the AI law signed?")
"""

from .assistant import Assistant
from .errors import ConfigError, EmptyIndex, GeneratorError, IndexBusy, IngestError, InvalidQuestion, RagError
from .settings import Settings
from .types import Answer, Chunk, Citation, Document, Passage, Source, Turn

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "ConfigError",
    "Document",
    "EmptyIndex",
    "GeneratorError",
    "IndexBusy",
    "IngestError",
    "InvalidQuestion",
    "Passage",
    "RagError",
    "Settings",
    "Source",
    "Turn",
]
