"""Loading, chunking and indexing documents into the engine's store (`python -m ingest PATH...`)."""

from .index import Indexer, IngestReport, index_documents

__all__ = ["Indexer", "IngestReport", "index_documents"]
