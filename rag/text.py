"""Text primitives shared by ingest, answering and the front ends: sentence spans, word counts, lexical tokens,
and the one home of the patterns and word lists they share (headings, citation markers, names, months, stop words).

Lexical tokens are stemmed in the text's own language (Snowball; Kazakh by its noun endings) when it is known,
English otherwise; stop words of English, German and Russian are dropped in any text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import pairwise
from urllib.parse import urlsplit

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN, STOPWORDS_RUSSIAN

_ABBREVIATIONS = frozenset(
    ["e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "prof", "st", "no", "nr", "z.b", "bzw", "ca", "u.a", "d.h", "usw", "inc", "ltd", "co", "jr", "sr", "fig", "approx", "dept", "gov", "u.s", "u.k"]
)
# Candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace, then a likely sentence start.
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”’)\]]*\s+(?=[\"'«“„‘(\[]?[A-ZÄÖÜА-ЯЁ0-9])")
# Markdown headings: a whole heading line, its "## " mark alone, and the title it carries.
HEADING_LINE = re.compile(r"^[ \t]*#{1,6}[ \t]+[^\n]*$", re.MULTILINE)
HEADING_MARK = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+")
HEADING_TITLE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# Markdown tables (loaders write PDF and DOCX tables so): each row is a line starting with "|", and is a
# sentence of its own, quotable like any statement; the line under the header row is the separator.
TABLE_ROW = re.compile(r"^[ \t]*\|[^\n]*$", re.MULTILINE)
TABLE_SEPARATOR = re.compile(r"^[ \t]*\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*$")
# A citation marker in an answer's text: "[n]" refers to citations[n-1].
CITATION_MARKER = re.compile(r"\[(\d{1,3})\]")
# Names: a capitalised word (question and passage features) and, for checking an LLM's sentences, any
# capitalised token including abbreviations ("U.S.") and initials; words capitalised for other reasons.
NAME = re.compile(r"(?<![\w.])([A-ZÄÖÜА-ЯЁ][\w\-’']+)")
NAME_TOKEN = re.compile(r"(?<![\w.])([A-ZÄÖÜА-ЯЁ][\w.\-’']*\w|[A-ZÄÖÜА-ЯЁ])")
NOT_NAMES = frozenset(["i", "i'm", "i've", "passage", "passages", "source", "sources", "document", "documents"])
# Month names (English, German, Russian in the genitive of dates): a date's day keeps its period
# ("11. August"), answers are checked for dates, and LLM sentences must not invent one.
MONTHS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
     "januar", "jänner", "februar", "märz", "mai", "juni", "juli", "oktober", "dezember",
     "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"]
)
# What follows a number that makes it an amount (money, a large quantity, a share): currencies and scale words
# of English, German and Russian, as regular expressions (answer kinds, rag/answering/answer_types.py).
AMOUNT_WORDS = (
    r"usd\b", r"eur\b", r"kzt\b", r"tenge\b", r"тенге\b", r"dollars?\b", r"euros?\b", r"долл\w*", r"евро\b", r"рубл\w*",
    r"billion\b", r"million\b", r"trillion\b", r"thousand\b", r"bn\b", r"mln\b", r"milliarden?\b", r"millionen?\b",
    r"billionen?\b", r"tausend\b", r"mrd\b", r"mio\b", r"млрд\w*", r"млн\b", r"трлн\b", r"тыс\w*", r"миллиард\w*",
    r"миллион\w*", r"percent\b", r"prozent\b", r"процент\w*",
)
_AFTER_ORDINAL = MONTHS | {"jahrhundert"}  # "11. August", "19. Jahrhundert": the period is not a sentence end
_WORD = re.compile(r"\w+", re.UNICODE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # 1,600  4,8  2025  17.11.2025
TOKENIZER_VERSION = "5"  # part of the BM25 cache key: bump when lexical_tokens changes (5: Kazakh endings)
# bm25s' lists lack many function words that questions are made of ("did", "get", "wann", "laut").
_EXTRA_STOPWORDS = frozenset(
    ["did", "does", "do", "done", "doing", "got", "get", "gets", "getting", "went", "go", "goes", "going", "you", "your", "yours", "me", "my", "we", "our", "us", "i", "its", "it's", "look", "looks", "tell", "told", "say", "said", "says", "know", "make", "made", "much", "many", "also", "would", "could", "should", "may", "might", "must", "wann", "laut", "groß", "viel", "viele", "wie", "welche", "welcher", "welches", "welchen", "gibt", "gab", "hat", "hatte", "sein", "seine", "ihre", "ihr",
     "каком", "какие", "каких", "каким", "какое", "какую", "который", "которая", "которые", "сколько", "чей", "чья", "почему", "является"]
)
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_GERMAN) | frozenset(STOPWORDS_RUSSIAN) | _EXTRA_STOPWORDS
# Snowball stemmers by ISO 639-1 code; other languages are stemmed as English (names and numbers survive).
_STEMMERS = {
    "en": "english", "de": "german", "ru": "russian", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish", "tr": "turkish", "pl": "polish",
}
# Kazakh has no Snowball stemmer. Kazakh is agglutinative: a root takes plural, possessive and case endings in
# that order (ауыл-дар-ы-нда "in their villages"), each in variants by vowel harmony and the sound before it. The
# stemmer strips the longest ending it knows, up to three times, keeping at least three letters, then undoes the
# voicing of a root's last consonant before a vowel ending (министрлігі -> министрліг -> министрлік). Nouns'
# endings only: verbs keep their tense endings (rarely what a question and a passage share anyway).
_KAZAKH_ENDING_GROUPS = {
    "plural": ["лар", "лер", "дар", "дер", "тар", "тер"],
    "possessive": ["ымыз", "іміз", "мыз", "міз", "ыңыз", "іңіз", "ңыз", "ңіз", "ым", "ім", "ың", "ің", "сы", "сі", "ы", "і"],
    "genitive": ["ның", "нің", "дың", "дің", "тың", "тің"],
    "accusative": ["сын", "сін", "ны", "ні", "ды", "ді", "ты", "ті"],
    "dative": ["ға", "ге", "қа", "ке", "на", "не"],
    "locative": ["нда", "нде", "да", "де", "та", "те"],
    "ablative": ["дан", "ден", "тан", "тен", "нан", "нен"],
    "instrumental, equative": ["мен", "бен", "пен", "ша", "ше"],
    # "which is in": елдегі. Not -ғы/-гі (жылғы): it would take министрлігі's г, which is the root's к.
    "locative adjective": ["дағы", "дегі", "тағы", "тегі", "ндағы", "ндегі"],
}
KAZAKH_ENDINGS = tuple(sorted((e for group in _KAZAKH_ENDING_GROUPS.values() for e in group), key=len, reverse=True))
_KAZAKH_VOICED = str.maketrans("гғб", "кқп")


def kazakh_stem(word: str) -> str:
    """A Kazakh word without its noun endings (see `KAZAKH_ENDINGS`); words with digits stay as they are."""
    if any(c.isdigit() for c in word):
        return word
    stem = word
    for _ in range(3):
        ending = next((e for e in KAZAKH_ENDINGS if stem.endswith(e) and len(stem) - len(e) >= 3), "")
        if not ending:
            break
        stem = stem[: -len(ending)]
    return stem[:-1] + stem[-1].translate(_KAZAKH_VOICED) if stem != word else stem


def digits(token: str) -> str:
    """A number's digits without separators ("1,600" and "1600" are the same number)."""
    return re.sub(r"\D", "", token)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph-like blocks: split at blank lines, before list items/headings and after heading lines."""
    cuts = {0, len(text)}
    for m in re.finditer(r"\n[ \t]*\n+", text):
        cuts.update((m.start(), m.end()))
    for m in re.finditer(r"\n(?=[ \t]*(?:#{1,6}\s|[-*•]\s|\d{1,3}[.)]\s|\|))", text):
        cuts.add(m.start())
    for m in HEADING_LINE.finditer(text):
        cuts.update((m.start(), m.end()))
    ordered = sorted(cuts)
    return [(a, b) for a, b in pairwise(ordered) if text[a:b].strip()]


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` ends an abbreviation, an initial or a German ordinal ("11. August")."""
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    token = text[start:dot].lstrip("(\"'«“„").lower()
    if not token:
        return False
    if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
        return True
    if token.isdigit() and len(token) <= 2:  # a German ordinal date: "11. August", "1. Januar"
        following = text[dot + 1 : dot + 16].split()
        return bool(following) and following[0].lower().rstrip(",") in _AFTER_ORDINAL
    return False


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets into `text`, whitespace trimmed, for text[start:end]."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for b_start, b_end in _blocks(text[start:end]):
        b_start += start
        b_end += start
        cursor = b_start
        for m in _BOUNDARY.finditer(text, b_start, b_end):
            if text[m.start()] == "." and _is_abbreviation(text, m.start()):
                continue
            stop = m.end()
            # Keep the punctuation and closing quotes, drop the whitespace.
            while stop > m.start() and text[stop - 1].isspace():
                stop -= 1
            spans.append((cursor, stop))
            cursor = m.end()
        spans.append((cursor, b_end))
    return [_trim(text, a, b) for a, b in spans if text[a:b].strip()]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def is_heading(sentence: str) -> bool:
    """A heading or label line rather than a sentence (no verb-ending punctuation, starts with #, very short)."""
    s = sentence.strip()
    if s.startswith("|"):
        return False  # a table row states something (its cells), however short
    return s.startswith("#") or (len(s.split()) <= 12 and not s.endswith((".", "!", "?", "…", ":", '"', "»", "”")))


@cache
def _stemmer(algorithm: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(algorithm)


def lexical_tokens(text: str, language: str = "") -> list[str]:
    """Lower-cased, NFKC-normalised, stop-word-free tokens for BM25, stemmed in `language` (default English)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    words = [w for w in _WORD.findall(folded) if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS]
    if language == "kk":
        return [kazakh_stem(w) for w in words]
    return _stemmer(_STEMMERS.get(language, "english")).stemWords(words)


def content_terms(text: str, language: str = "") -> set[str]:
    return set(lexical_tokens(text, language))


def http_url(url: object) -> str | None:
    """The URL (stripped) if it is an absolute http(s) link without whitespace, else None: no `javascript:` or
    `data:` URL ever becomes a link. Each front end then escapes it for its own markup."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return None
    return url
