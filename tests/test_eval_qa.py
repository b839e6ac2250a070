"""The dev-question-set evaluation against the small real index of conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.qa import DevQuestion, check, evaluate_qa, load_devset, summarise
from rag.errors import ConfigError
from rag.types import Answer, Chunk, Citation, Passage

DEVSET = [
    {"id": "law", "question": "When did President Tokayev sign the law on artificial intelligence?", "lang": "en",
     "answer": "17 November 2025|2025-11-17", "source": "ai-law.md"},
    {"id": "super", "question": "In which city did Kazakhstan launch its national supercomputer?", "lang": "en",
     "answer": "Astana", "source": "supercomputer.md"},
    {"id": "markt", "question": "Wie groß könnte der globale KI-Markt bis 2033 werden?", "lang": "de",
     "answer": r"4,8 Billionen", "source": "tokayev-treffen.de.txt"},
    {"id": "none", "question": "When did Uzbekistan open its quantum computing laboratory?", "lang": "en",
     "answer": None, "source": None},
]


def write_devset(path: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_qa_eval_on_the_small_index(small_index, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    report = evaluate_qa(write_devset(tmp_path / "dev.jsonl", DEVSET), settings, embedder=embedder, details=True)
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (4, 3, 1)
    assert report["recall@5"] == 1.0
    assert report["refusal_rate"] == 1.0  # Uzbekistan is named nowhere in the corpus
    assert report["answer_match"] >= 2 / 3 and report["false_refusal_rate"] <= 1 / 3
    assert 0.0 < report["citation_precision"] <= report["citation_passage_precision"] <= 1.0
    assert 0 < report["latency_p50_ms"] <= report["latency_p95_ms"]
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["law"]["answer_matches"] and by_id["law"]["source_found"]
    assert by_id["none"]["grounded"] is False and by_id["none"]["source_found"] is None
    failing = {f["id"] for f in report["failing"]}
    assert "law" not in failing and "none" not in failing


def test_cli_qa_json_last_line(small_index, embedder, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import rag.assistant
    from rag.__main__ import main

    settings, _ = small_index
    monkeypatch.setattr(rag.assistant, "SentenceTransformerEmbedder", lambda s: embedder)
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    path = write_devset(tmp_path / "dev.jsonl", DEVSET[:2] + DEVSET[3:])
    assert main(["eval", "qa", str(path), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["questions"] == 3 and report["refusal_rate"] == 1.0
    assert main(["eval", "qa", str(path), "--no-progress"]) == 0
    assert "refusal rate" in capsys.readouterr().out


def test_load_devset_rejects_bad_lines(tmp_path: Path) -> None:
    good = load_devset(write_devset(tmp_path / "ok.jsonl", DEVSET))
    assert [q.answerable for q in good] == [True, True, True, False]
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "question": "q", "answer": "(unclosed"}\n')
    with pytest.raises(ConfigError, match="bad.jsonl:1"):
        load_devset(tmp_path / "bad.jsonl")
    with pytest.raises(ConfigError):
        load_devset(tmp_path / "missing.jsonl")


def _answer(text: str, quotes: list[tuple[str, str]], grounded: bool = True) -> Answer:
    citations = tuple(
        Citation(n, Chunk(f"c{n}", "x.md", "", passage, 0, len(passage)), quote, 0, len(quote)) for n, (quote, passage) in enumerate(quotes, 1)
    )
    return Answer(text=text, citations=citations, grounded=grounded)


def test_scoring_by_hand() -> None:
    """Two answerable questions (one answered with 1 of 2 citations right, one declined) and one unanswerable."""
    passages = [Passage(Chunk("p", "corpus/ai-law.md", "", "t", 0, 1), 1.0)]
    law = DevQuestion("a", "When?", answer="17 November 2025", source="ai-law.md")
    other = DevQuestion("b", "Where?", answer="Astana", source="supercomputer.md")
    none = DevQuestion("c", "Why?", answer=None)
    results = [
        check(law, _answer("Signed on 17 NOVEMBER 2025 [1]. Also [2].", [("Signed on 17 November 2025.", "Signed on 17 November 2025. More."),
                                                                         ("It took effect later.", "17 November 2025 ...")]), passages, 10.0),
        check(other, _answer("I could not find an answer.", [], grounded=False), passages, 20.0),
        check(none, _answer("Something [1].", [("Something.", "Something.")]), passages, 30.0),
    ]
    summary = summarise(results, 5)
    assert summary["recall@5"] == 0.5  # ai-law.md found (in a folder), supercomputer.md not
    assert summary["answer_match"] == 0.5  # case-insensitive match; the refusal does not match
    assert summary["citation_precision"] == 0.5 and summary["citation_passage_precision"] == 1.0
    assert summary["refusal_rate"] == 0.0 and summary["false_refusal_rate"] == 0.5
    assert summary["latency_p50_ms"] == 20.0
    problems = {f["id"]: f["problems"] for f in summary["failing"]}
    assert problems["a"] == ["1 of 2 citations lack the fact"]
    assert "declined an answerable question" in problems["b"] and "supercomputer.md not in the top 1" in problems["b"]
    assert problems["c"] == ["answered an unanswerable question"]


# --- SQuAD-format sets (XQuAD), indexed and asked per language pair --------------------------------------------
ARTICLES = {
    "en": [
        ("Aral_Sea", "The Aral Sea was a lake lying between Kazakhstan in the north and Uzbekistan in the south. It began "
         "shrinking in the 1960s after the rivers that fed it were diverted for Soviet irrigation projects. By 2007 it had "
         "declined to 10% of its original size.", "What share of its original size did the Aral Sea keep by 2007?", "10%"),
        ("Baikonur", "The Baikonur Cosmodrome is a spaceport in southern Kazakhstan that is leased to Russia. It was the launch "
         "site of the satellite Sputnik 1 in 1957 and of Yuri Gagarin's flight in 1961.", "Which satellite was launched from Baikonur in 1957?", "Sputnik 1"),
        ("Almaty", "Almaty is the largest city in Kazakhstan, with a population of about two million people. It was the "
         "capital of the country until 1997, when the government moved to Astana.", "Until what year was Almaty the capital?", "1997"),
        ("Etna", "Mount Etna is an active stratovolcano on the east coast of Sicily, Italy. It is one of the tallest active "
         "volcanoes in Europe.", "On which island does Mount Etna stand?", "Sicily"),
    ],
    "de": [
        ("Aral_Sea", "Der Aralsee war ein See zwischen Kasachstan im Norden und Usbekistan im Süden. Er begann in den 1960er "
         "Jahren zu schrumpfen, nachdem die Flüsse, die ihn speisten, für sowjetische Bewässerungsprojekte umgeleitet wurden. "
         "Bis 2007 war er auf 10% seiner ursprünglichen Größe geschrumpft.", "Wie viel seiner ursprünglichen Größe hatte der Aralsee 2007 noch?", "10%"),
        ("Baikonur", "Das Kosmodrom Baikonur ist ein Weltraumbahnhof im Süden Kasachstans, der an Russland verpachtet ist. "
         "Von dort startete 1957 der Satellit Sputnik 1 und 1961 der Flug von Juri Gagarin.", "Welcher Satellit startete 1957 von Baikonur?", "Sputnik 1"),
        ("Almaty", "Almaty ist die größte Stadt Kasachstans mit etwa zwei Millionen Einwohnern. Sie war bis 1997 die "
         "Hauptstadt des Landes, dann zog die Regierung nach Astana.", "Bis zu welchem Jahr war Almaty die Hauptstadt?", "1997"),
        ("Etna", "Der Ätna ist ein aktiver Schichtvulkan an der Ostküste Siziliens in Italien. Er ist einer der höchsten "
         "aktiven Vulkane Europas.", "Auf welcher Insel steht der Ätna?", "Sizilien"),
    ],
}


def write_squad(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for lang, articles in ARTICLES.items():
        data = []
        for n, (title, context, question, answer) in enumerate(articles):
            qa = {"id": f"q{n}", "question": question, "answers": [{"answer_start": context.index(answer), "text": answer}]}
            data.append({"title": title, "paragraphs": [{"context": context, "qas": [qa]}]})
        (folder / f"mini.{lang}.json").write_text(json.dumps({"version": "1.1", "data": data}, ensure_ascii=False), encoding="utf-8")
    return folder


def test_squad_pairs_are_indexed_asked_and_scored(embedder, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import rag.embedder
    from rag.__main__ import main

    monkeypatch.setattr(rag.embedder, "SentenceTransformerEmbedder", lambda s: embedder)
    folder = write_squad(tmp_path / "squad")
    args = ["eval", "qa", str(folder), "--pairs", "en-en,de-en,en-de", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    pairs = {p["pair"]: p for p in report["pairs"]}
    assert set(pairs) == {"en-en", "de-en", "en-de"}
    for row in pairs.values():
        # Etna (every 4th article) is not indexed: its question must be declined; the others can be answered.
        assert (row["articles_indexed"], row["articles_absent"], row["answerable"], row["unanswerable"]) == (3, 1, 3, 1)
        assert row["refused_absent"] == 1.0
        assert row["answered"] + row["false_refusals"] + row["wrong_answers"] == pytest.approx(1.0)
    assert pairs["en-en"]["answered"] >= 2 / 3 and pairs["de-en"]["answered"] >= 2 / 3
    assert main(args) == 0
    assert "refused_absent" in capsys.readouterr().out
    assert main(["eval", "qa", str(folder), "--pairs", "ru-en", "--no-progress"]) == 2
    assert "no file for 'ru'" in capsys.readouterr().err
