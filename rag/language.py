"""The language of a text, detected once (py3langid: a naive Bayes model over byte n-grams).

Answering carries the question's language as data: features compare it with each passage's language, fusion
weighs passages in another language differently, and messages to the user follow it. Detection chooses among
`LANGUAGES` only: telling German from Luxembourgish or Russian from Bulgarian is where short questions go wrong,
and nothing downstream treats those languages differently. Below `MIN_CONFIDENCE` the language is unknown ("")
and callers fall back to their defaults.
"""

from __future__ import annotations

from functools import lru_cache

# py3langid's normalised probability for short questions: 0.3-0.6 when right ("What is Alem.ai?" 0.32 en),
# under 0.05 on bare names ("KazLLM?" 0.03 zxx). 0.2 keeps the former and drops the latter.
MIN_CONFIDENCE = 0.2
UNKNOWN = ""
# The 16 languages of the multilingual model (USE v3) and Kazakh, the country's own.
LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "ja", "kk", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


@lru_cache(maxsize=4096)
def detect_language(text: str) -> str:
    """ISO 639-1 code of `text` ("en", "de", "ru", …), or "" when the text is too short or ambiguous to tell."""
    if not any(ch.isalpha() for ch in text):
        return UNKNOWN
    code, probability = _identifier().classify(text)
    return str(code) if probability >= MIN_CONFIDENCE else UNKNOWN


def document_language(declared: object, text: str) -> str:
    """A document's language: its declared one (front matter) when it has one, else detected from its text."""
    if isinstance(declared, str) and declared.strip():
        return declared.strip().lower()
    return detect_language(text[:2000])
