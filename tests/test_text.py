from rag.text import lexical_tokens, sentence_spans


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_sentences_keep_abbreviations_numbers_and_german_ordinals_together():
    text = "Am 11. August 2025 sprach Tokayev. The U.S. market, e.g. Dr. Smith, grew 4.8 times! Did it? Yes."
    assert _sentences(text) == [
        "Am 11. August 2025 sprach Tokayev.",
        "The U.S. market, e.g. Dr. Smith, grew 4.8 times!",
        "Did it?",
        "Yes.",
    ]


def test_headings_and_list_items_are_their_own_units_and_offsets_are_exact():
    text = "# Title\n\nFirst sentence here. Second one.\n- item one\n- item two"
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["# Title", "First sentence here.", "Second one.", "- item one", "- item two"]


def test_sentence_spans_of_a_slice_are_offsets_into_the_whole_text():
    text = "Ignored. Kept sentence one. Kept two."
    spans = sentence_spans(text, 9, len(text))
    assert [text[a:b] for a, b in spans] == ["Kept sentence one.", "Kept two."]


def test_lexical_tokens_drop_stopwords_and_stem_in_english_and_german():
    assert lexical_tokens("The laws were signed") == ["law", "sign"]
    assert "und" not in lexical_tokens("Kasachstan und die KI")
    assert lexical_tokens("Künstliche Intelligenz")[0] == "künstlich"
