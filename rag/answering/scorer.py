"""The learned scorer: small logistic regressions in one versioned JSON file (bench/train_scorer.py).

- answer kinds: the question's multilingual vector -> P(the answer is a number, a year, a day, an amount, a
  name), one model per kind (answer_types.KINDS);
- sentence: `FEATURES` of a candidate sentence -> P(it holds the answer), which ranks what to quote;
- support: `SUPPORT_FEATURES` of the question's candidates -> P(the passages answer the question at all);
- extension: `EXTENSION_FEATURES` of the best sentence and a neighbour -> P(the neighbour holds the answer the
  best sentence lacks), which decides whether an extractive answer quotes the neighbour too.

Answering declines when P(support) is under `threshold` (`llm_threshold` when an LLM writes the answers and
the verifier judges each sentence), which the training script chose on cross-validated predictions of the
training data (never on the sets the README reports). Inference is plain numpy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .answer_types import KINDS
from .extension import EXTENSION_FEATURES
from .features import FEATURES
from .support import SUPPORT_FEATURES

DEFAULT_PATH = Path(__file__).with_name("scorer.json")
FORMAT = 3
# Standardised features are clipped to this many standard deviations, in training and here: a feature that is
# almost constant in the training data (so its scale is tiny) cannot swing a probability on a new corpus.
CLIP = 5.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def standardise(rows: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(rows, dtype=np.float64) - mean) / scale, -CLIP, CLIP)


@dataclass(frozen=True, eq=False)
class LogisticModel:
    """P = sigmoid(coef · clip((x - mean) / scale) + intercept) over named features."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.size == 0:
            return np.zeros(len(rows), dtype=np.float32)
        return sigmoid(standardise(rows, self.mean, self.scale) @ self.coef + self.intercept).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticModel:
        n = len(data["coef"])
        return cls(
            tuple(data.get("features") or (f"x{i}" for i in range(n))),
            np.asarray(data.get("mean") or [0.0] * n, dtype=np.float64),
            np.asarray(data.get("scale") or [1.0] * n, dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
        )


@dataclass(frozen=True, eq=False)
class SentenceScorer:
    sentence: LogisticModel
    support: LogisticModel
    threshold: float
    embedding_model: str  # the multilingual model whose similarities it was trained on
    answer_kinds: Mapping[str, LogisticModel] = field(default_factory=dict)  # over the question's vector (no scaling)
    extension: LogisticModel | None = None
    extension_threshold: float = 1.0
    llm_threshold: float = 0.0  # the lower P(support) at which an LLM (whose sentences are verified) may answer
    info: Mapping[str, Any] = field(default_factory=dict)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(sentence holds the answer) for rows of `FEATURES`."""
        return self.sentence.probabilities(rows)

    def support_probability(self, row: np.ndarray) -> float:
        """P(the passages answer the question) for one row of `SUPPORT_FEATURES`."""
        return float(self.support.probabilities(np.asarray(row).reshape(1, -1))[0])

    def extension_probability(self, row: np.ndarray) -> float:
        """P(a neighbour of the best sentence holds the answer it lacks) for one row of `EXTENSION_FEATURES`."""
        if self.extension is None:
            return 0.0
        return float(self.extension.probabilities(np.asarray(row).reshape(1, -1))[0])

    def kinds(self, question_vector: np.ndarray) -> dict[str, float]:
        """P(the answer is of each kind) for a question's multilingual vector (0.5 for a kind the file lacks)."""
        vector = np.asarray(question_vector, dtype=np.float64).reshape(1, -1)
        out = {}
        for kind in KINDS:
            model = self.answer_kinds.get(kind)
            fits = model is not None and model.coef.shape[0] == vector.shape[1]
            out[kind] = float(model.probabilities(vector)[0]) if model is not None and fits else 0.5
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "embedding_model": self.embedding_model,
            "threshold": self.threshold,
            "sentence": self.sentence.to_dict(),
            "support": self.support.to_dict(),
            "answer_kinds": {k: m.to_dict() for k, m in self.answer_kinds.items()},
            "extension": self.extension.to_dict() if self.extension else None,
            "extension_threshold": self.extension_threshold,
            "llm_threshold": self.llm_threshold,
            "info": dict(self.info),
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None, embedding_model: str | None = None) -> SentenceScorer:
        """Read and check a scorer file; `ConfigError` says how to fix a missing, broken or mismatched one."""
        path = Path(path) if path else DEFAULT_PATH
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read the sentence scorer {path} ({exc.strerror or exc}): fix RAG_SCORER_PATH") from exc
        except ValueError as exc:
            raise ConfigError(f"the sentence scorer {path} is not JSON ({exc}): retrain it with bench/train_scorer.py") from exc
        try:
            if data.get("format") != FORMAT:
                raise KeyError("format")
            sentence = LogisticModel.from_dict(data["sentence"])
            support = LogisticModel.from_dict(data["support"])
            kinds = {k: LogisticModel.from_dict(m) for k, m in (data.get("answer_kinds") or {}).items()}
            extension = LogisticModel.from_dict(data["extension"]) if data.get("extension") else None
            scorer = cls(
                sentence, support, float(data["threshold"]), str(data["embedding_model"]), kinds,
                extension, float(data.get("extension_threshold", 1.0)), float(data.get("llm_threshold", data["threshold"])),
                data.get("info") or {},
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"the sentence scorer {path} is not a scorer file ({type(exc).__name__}: {exc}): retrain it with bench/train_scorer.py") from exc
        models = [(scorer.sentence, FEATURES), (scorer.support, SUPPORT_FEATURES)]
        if scorer.extension is not None:
            models.append((scorer.extension, EXTENSION_FEATURES))
        for model, expected in models:
            if model.features != expected or not len(model.mean) == len(model.scale) == len(model.coef) == len(expected):
                raise ConfigError(
                    f"the sentence scorer {path} was trained on other features than this version computes: "
                    "retrain it with bench/train_scorer.py (or unset RAG_SCORER_PATH)"
                )
        if embedding_model and scorer.embedding_model != embedding_model:
            raise ConfigError(
                f"the sentence scorer {path} was trained with the multilingual model '{scorer.embedding_model}', "
                f"but the settings use '{embedding_model}': retrain it with bench/train_scorer.py or change RAG_MULTILINGUAL_MODEL"
            )
        return scorer
