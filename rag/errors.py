"""Errors the engine raises; each message says what went wrong and what to do."""


class RagError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(RagError):
    """A setting is wrong or two parts of the set-up disagree."""


class IngestError(RagError):
    """A file could not be loaded or indexed."""


class EmptyIndex(RagError):
    """There is no index yet, or it holds nothing."""


class InvalidQuestion(RagError, ValueError):
    """The question is empty, too long or otherwise unusable."""


class GeneratorError(RagError):
    """An answer backend (LLM) failed or is unreachable."""


class IndexBusy(RagError):
    """Another ingest holds the index lock."""
