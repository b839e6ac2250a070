"""What the assistant says in its own words, in the asker's language (English when the language is unknown or
has no translation here), and the labels front ends show beside an answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

FALLBACK = "en"

_TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "decline": "I could not find an answer to that in the documents.",
        "unknown": "They do not mention {names}.",
        "related": "The closest passages are listed below; they are related, but not an answer.",
        "no_passages": "The documents hold nothing close to the question.",
        "sources": "Sources",
        "related_head": "Related, but not an answer",
        "related_note": "The passages below are related, but not an answer.",
        "see_related": "See the related passages →",
        "not_found": "Not found in the documents",
        "no_answer": "no answer found",
        "source_count": "{n} source(s)",
    },
    "de": {
        "decline": "Dazu finde ich in den Dokumenten keine Antwort.",
        "unknown": "Sie erwähnen {names} nicht.",
        "related": "Die ähnlichsten Passagen stehen unten, sie beantworten die Frage aber nicht.",
        "no_passages": "Die Dokumente enthalten nichts, was der Frage nahekommt.",
        "sources": "Quellen",
        "related_head": "Verwandt, aber keine Antwort",
        "related_note": "Die Passagen unten sind verwandt, beantworten die Frage aber nicht.",
        "see_related": "Zu den verwandten Passagen →",
        "not_found": "In den Dokumenten nicht gefunden",
        "no_answer": "keine Antwort gefunden",
        "source_count": "{n} Quelle(n)",
    },
    "ru": {
        "decline": "В документах нет ответа на этот вопрос.",
        "unknown": "В них не упоминается {names}.",
        "related": "Ниже приведены самые близкие фрагменты: они связаны с темой, но не отвечают на вопрос.",
        "no_passages": "В документах нет ничего близкого к этому вопросу.",
        "sources": "Источники",
        "related_head": "Близко к теме, но не ответ",
        "related_note": "Фрагменты ниже связаны с темой, но не отвечают на вопрос.",
        "see_related": "К близким фрагментам →",
        "not_found": "В документах не найдено",
        "no_answer": "ответ не найден",
        "source_count": "источников: {n}",
    },
}


_NAMES = {"en": "English", "de": "German", "ru": "Russian"}


def spoken() -> str:
    """The languages the assistant speaks in its own words, for front ends' help texts ("English, German or ...")."""
    names = [_NAMES.get(code, code) for code in _TEXTS]
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def text(key: str, language: str) -> str:
    """The message `key` in `language`, else in English."""
    return _TEXTS.get(language, _TEXTS[FALLBACK])[key]


def decline_text(language: str, unknown_names: Sequence[str] = (), passages_found: bool = True) -> str:
    parts = [text("decline", language)]
    if unknown_names:
        parts.append(text("unknown", language).format(names=", ".join(repr(n) for n in unknown_names)))
    parts.append(text("related" if passages_found else "no_passages", language))
    return " ".join(parts)
