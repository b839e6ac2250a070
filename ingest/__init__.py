"""Loading, chunking and indexing documents into the engine's store (`python -m ingest PATH...`)."""

from .index import IngestReport, Indexer

__all__ = ["IngestReport", "Indexer"]
