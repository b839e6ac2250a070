from ingest.chunk import chunk_document
from rag.types import Document


def _doc(text: str, pages=()) -> Document:
    return Document(source="c/doc.md", title="Doc", text=text, meta={"language": "en"}, pages=pages)


def test_chunks_are_exact_slices_within_the_word_limit_with_overlap():
    text = "# Doc\n\n" + " ".join(f"Sentence {i} says something about topic {i}." for i in range(80))
    chunks = chunk_document(_doc(text), "h1", max_words=50, overlap_words=10)
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text.split()) <= 50
        assert chunk.meta["n_chunks"] == len(chunks) and chunk.meta["doc_hash"] == "h1"
    # consecutive chunks overlap by whole sentences, and together they cover the whole text
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:]))
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_chunk_ids_are_stable_and_change_with_content():
    text = "One sentence here. " * 40
    first = [c.id for c in chunk_document(_doc(text), "h", 30, 5)]
    again = [c.id for c in chunk_document(_doc(text), "h", 30, 5)]
    changed = [c.id for c in chunk_document(_doc(text.replace("One", "Two", 1)), "h", 30, 5)]
    assert first == again and len(set(first)) == len(first)
    assert changed[0] != first[0] and changed[1:] == first[1:]


def test_a_sentence_longer_than_a_chunk_is_cut_at_word_boundaries():
    text = " ".join(["word"] * 130) + "."
    chunks = chunk_document(_doc(text), "h", max_words=50, overlap_words=10)
    assert [len(c.text.split()) for c in chunks] == [44, 44, 42] or all(len(c.text.split()) <= 50 for c in chunks)
    assert "".join(c.text + " " for c in chunks).split() == text.split()


def test_token_budget_keeps_finely_tokenised_text_within_the_model_limit():
    text = " ".join("Donaudampfschifffahrtsgesellschaft fährt heute." for _ in range(60))
    count = lambda texts: [len(t) // 2 for t in texts]  # a stand-in tokenizer: 1 token per 2 characters  # noqa: E731
    chunks = chunk_document(_doc(text), "h", max_words=150, overlap_words=0, max_tokens=100, count_tokens=count)
    assert all(count([c.text])[0] <= 110 for c in chunks)


def test_pages_are_kept_and_chunks_never_span_two_pages():
    page1, page2 = "First page text. " * 5, "Second page text. " * 5
    text = page1.strip() + "\n\n" + page2.strip()
    doc = _doc(text, pages=((0, 1), (len(page1.strip()) + 2, 2)))
    chunks = chunk_document(doc, "h", 150, 10)
    assert [c.page for c in chunks] == [1, 2]
    assert chunks[1].text.startswith("Second page")
