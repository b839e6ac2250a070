"""Documents managed through the REST API, over a real index: list, upload (a background job), follow, delete,
and every bad input (too large, unknown type, broken or locked PDF, zip bomb, a path as name, the same file twice),
with the API key on and off and on a read-only server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag import Assistant, Settings
from rag.server import create_app

from .conftest import AI_LAW, SUPERCOMPUTER, write_corpus
from .files import make_docx, make_pdf, make_scanned_pdf, make_zip_bomb_docx

KEY = "docs-key-5be1c0"
# A fact no other document holds, in a sentence that restates the question's words.
ROBOTICS = """# Zhetisu robotics prize

The Zhetisu robotics prize of 2031 was awarded to 47 student teams in Taldykorgan on 9 March 2031.
"""
ROBOTICS_QUESTION = "How many student teams were awarded the Zhetisu robotics prize of 2031?"


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder) -> tuple[Settings, Assistant, Any]:  # type: ignore[no-untyped-def]
    from ingest import Indexer
    from ingest.uploads import FileIngester

    root = tmp_path_factory.mktemp("documents")
    corpus = write_corpus(root / "corpus", {"ai-law.md": AI_LAW, "supercomputer.md": SUPERCOMPUTER})
    settings = Settings(index_dir=root / "index")
    assert Indexer(settings, embedder).run([str(corpus)]).ok
    assistant = Assistant(settings, embedder=embedder)
    return settings, assistant, FileIngester(settings, embedder, assistant.multilingual)


@pytest.fixture(scope="module")
def client(index) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings, assistant, ingester = index
    with TestClient(create_app(settings, assistant, chat=False, ingester=ingester), raise_server_exceptions=False) as c:
        yield c


def app_with(index, **overrides: Any) -> TestClient:  # type: ignore[no-untyped-def]
    settings, assistant, ingester = index
    changed = Settings(**{**settings.model_dump(), **overrides})
    return TestClient(create_app(changed, assistant, chat=False, ingester=ingester), raise_server_exceptions=False)


def assert_error(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["error"] and "Traceback" not in response.text
    for word in words:
        assert word in body["detail"], body["detail"]
    return body["detail"]


def upload(client: TestClient, *files: tuple[str, bytes]) -> dict[str, Any]:
    """POST the files, wait for the job to finish (polling its URL, as a client does), return the final job."""
    response = client.post("/api/documents", files=[("files", (name, data)) for name, data in files])
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/api/documents/jobs/{job['id']}"
    assert [f["stage"] for f in job["files"]] == ["queued"] * len(files)
    deadline = time.monotonic() + 120
    while job["state"] != "finished":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(response.headers["location"]).json()
    return job


def documents(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/documents")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["documents"])
    return {d["source"]: d for d in body["documents"]}


def index_state(assistant: Assistant) -> dict[str, int]:
    """Records per collection and BM25 entries: what a failed upload must leave as it was."""
    wait_for_lexical(assistant)
    store = assistant.store
    return {
        "chunks": store.count(), "multilingual": store.multilingual.count(), "sentences": store.sentences.count(),
        "bm25": len(assistant.retriever.lexical()),
    }


def wait_for_lexical(assistant: Assistant) -> None:
    time.sleep(1.1)  # the retriever checks the index generation at most once a second (rag/retrieve.py)


# --- listing ----------------------------------------------------------------------------------------------------
def test_the_list_has_every_document_with_its_metadata_and_no_text(client: TestClient) -> None:
    listed = documents(client)
    assert set(listed) == {"corpus/ai-law.md", "corpus/supercomputer.md"}
    law = listed["corpus/ai-law.md"]
    assert law["title"] == "Kazakhstan's law on artificial intelligence"
    assert law["language"] == "en" and law["date"] == "2025-11-17" and law["passages"] >= 1
    assert law["added"] is None  # ingested by the command line, not uploaded
    assert len(law["id"]) == 16 and "text" not in law
    assert documents(client)["corpus/ai-law.md"]["id"] == law["id"]  # stable


# --- upload, answer, delete -------------------------------------------------------------------------------------
def test_an_uploaded_document_is_answered_from_then_deleted_without_a_trace(client: TestClient, index) -> None:  # type: ignore[no-untyped-def]
    settings, assistant, _ = index
    before = index_state(assistant)
    others = {s: d["passages"] for s, d in documents(client).items()}
    assert client.post("/api/ask", json={"question": ROBOTICS_QUESTION}).json()["grounded"] is False

    job = upload(client, ("robotics-prize.md", ROBOTICS.encode()))
    (file,) = job["files"]
    assert file["stage"] == "done" and file["result"] == "added", file
    assert file["source"] == "robotics-prize.md" and job["finished"]
    listed = documents(client)
    entry = listed["robotics-prize.md"]
    assert entry["id"] == file["document_id"] and entry["added"] and entry["title"] == "Zhetisu robotics prize"
    assert (settings.index_dir / "uploads" / "robotics-prize.md").read_bytes() == ROBOTICS.encode()
    assert not list((settings.index_dir / "uploads" / ".incoming").glob("*/*"))  # the staging copy is gone

    wait_for_lexical(assistant)
    answer = client.post("/api/ask", json={"question": ROBOTICS_QUESTION}).json()
    assert answer["grounded"] is True, answer
    assert any(c["source"] == "robotics-prize.md" for c in answer["citations"])

    response = client.delete(f"/api/documents/{entry['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["passages_removed"] == entry["passages"]
    assert {s: d["passages"] for s, d in documents(client).items()} == others  # the others are untouched
    assert not (settings.index_dir / "uploads" / "robotics-prize.md").exists()
    assert index_state(assistant) == before  # chunks, both vector spaces and BM25 all back as they were
    sources = {m["source"] for _, _, m in assistant.store.iter_records(include_documents=False)}
    assert "robotics-prize.md" not in sources
    assert client.post("/api/ask", json={"question": ROBOTICS_QUESTION}).json()["grounded"] is False
    assert_error(client.delete(f"/api/documents/{entry['id']}"), 404, "GET /api/documents")


def test_a_pdf_a_docx_and_a_scanned_pdf_are_answered_from_and_the_scan_is_cited_by_page(client: TestClient, index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The three formats of the browser test through the API: only OCR reads the scan; its citation names its page;
    removing it declines its question and leaves the others answered."""
    _, assistant, _ = index
    pdf = make_pdf(tmp_path / "steppe-survey.pdf", ["The steppe survey of 2030 counted 512 saiga calves on 2 May 2030."], title="Steppe survey")
    docx = make_docx(tmp_path / "irtysh-bridge.docx", "Irtysh bridge report", ["The Irtysh bridge near Semey opened to traffic on 21 August 2029."])
    scan = make_scanned_pdf(tmp_path / "caspian-scan.pdf", ["scan:The Caspian seal census of 2028 counted 9,300 seals on the northern ice."],
                            title="Caspian seal census")
    job = upload(client, *((p.name, p.read_bytes()) for p in (pdf, docx, scan)))
    assert [(f["stage"], f["result"]) for f in job["files"]] == [("done", "added")] * 3, job
    wait_for_lexical(assistant)
    for question, source in (
        ("How many saiga calves did the steppe survey of 2030 count?", "steppe-survey.pdf"),
        ("When did the Irtysh bridge near Semey open to traffic?", "irtysh-bridge.docx"),
    ):
        answer = client.post("/api/ask", json={"question": question}).json()
        assert answer["grounded"] is True and any(c["source"] == source for c in answer["citations"]), answer
    question = "How many seals did the Caspian seal census of 2028 count?"
    answer = client.post("/api/ask", json={"question": question}).json()
    cited = [c for c in answer["citations"] if c["source"] == "caspian-scan.pdf"]
    assert answer["grounded"] is True and cited and all(c["page"] == 1 for c in cited), answer
    assert any("9,300 seals" in c["quote"] for c in cited), answer
    listed = documents(client)
    assert client.delete(f"/api/documents/{listed['caspian-scan.pdf']['id']}").status_code == 200
    wait_for_lexical(assistant)
    assert client.post("/api/ask", json={"question": question}).json()["grounded"] is False
    answer = client.post("/api/ask", json={"question": "When did the Irtysh bridge near Semey open to traffic?"}).json()
    assert answer["grounded"] is True
    for source in ("steppe-survey.pdf", "irtysh-bridge.docx"):  # leave the module's index as the other tests expect
        assert client.delete(f"/api/documents/{documents(client)[source]['id']}").status_code == 200


def test_the_chat_answers_while_an_upload_is_being_ingested(index) -> None:  # type: ignore[no-untyped-def]
    settings, assistant, ingester = index
    gate, reached = threading.Event(), threading.Event()

    class Held:  # the real ingester, held before it starts until the question below is answered
        suffixes = ingester.suffixes

        def ingest_file(self, path: Path, stage: Any) -> Any:
            reached.set()
            gate.wait(60)
            return ingester.ingest_file(path, stage)

        def remove(self, source: str) -> int:
            return ingester.remove(source)

    with TestClient(create_app(settings, assistant, chat=False, ingester=Held()), raise_server_exceptions=False) as c:
        job = c.post("/api/documents", files={"files": ("held.md", b"# Held\n\nThe held upload has 5 lines.\n")}).json()
        assert reached.wait(30)
        answer = c.post("/api/ask", json={"question": "When was the AI law signed?"})
        assert answer.status_code == 200 and answer.json()["grounded"] is True
        status = c.get(f"/api/documents/jobs/{job['id']}").json()
        assert status["state"] == "running" and status["files"][0]["stage"] == "reading"
        gate.set()
        deadline = time.monotonic() + 60
        while (status := c.get(f"/api/documents/jobs/{job['id']}").json())["state"] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert status["files"][0]["result"] == "added"
        assert c.delete(f"/api/documents/{status['files'][0]['document_id']}").status_code == 200


# --- bad input: refused at once, nothing written ------------------------------------------------------------------
def test_files_that_cannot_be_taken_are_refused_at_once_naming_the_file(client: TestClient, index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, _, _ = index
    before = documents(client)
    good = ("fine.md", b"# Fine\n\nA fine file.\n")
    assert_error(client.post("/api/documents", files=[("files", good), ("files", ("tool.exe", b"MZ..."))]), 415, "'tool.exe'", ".pdf")
    assert_error(client.post("/api/documents", files={"files": ("notes", b"text")}), 415, "'notes'", "(none)")
    assert_error(client.post("/api/documents", files={"files": ("empty.md", b"")}), 422, "'empty.md'", "empty")
    assert_error(client.post("/api/documents", files={"files": ("/../..", b"x")}), 422, "no usable characters")
    assert_error(client.post("/api/documents", data={"other": "x"}), 422, "files")
    small = app_with(index, max_file_mb=0.001)  # 1 KB per file
    assert_error(small.post("/api/documents", files={"files": ("big.md", b"# Big\n\n" + b"word " * 400)}), 413, "'big.md'", "RAG_MAX_FILE_MB")
    tiny = app_with(index, upload_max_mb=0.01)  # 10 KB per request
    detail = assert_error(tiny.post("/api/documents", files={"files": ("huge.md", b"word " * 5000)}), 413, "RAG_UPLOAD_MAX_MB")
    assert "MB" in detail
    assert_error(app_with(index, upload_max_files=1).post("/api/documents", files=[("files", good), ("files", good)]), 413, "at most 1")
    assert documents(client) == before
    assert not (settings.index_dir / "uploads" / "fine.md").exists()


def test_the_api_body_limit_still_guards_the_other_routes(client: TestClient) -> None:
    assert_error(client.post("/api/ask", json={"question": "x" * 70_000}), 413)


# --- bad input: found while ingesting, reported per file, the index unchanged ------------------------------------------
def test_broken_locked_and_bomb_files_fail_with_their_reason_and_change_nothing(client: TestClient, index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, assistant, _ = index
    before, state = documents(client), index_state(assistant)
    locked = make_pdf(tmp_path / "locked.pdf", ["Secret budget of 2031."], password="s3cret").read_bytes()
    bomb = make_zip_bomb_docx(tmp_path / "bomb.docx").read_bytes()
    job = upload(
        client,
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage without xref"),
        ("locked.pdf", locked),
        ("bomb.docx", bomb),
        ("binary.md", b"\x00\x01\x02 not text"),
    )
    reasons = {f["saved_as"]: f for f in job["files"]}
    assert all(f["stage"] == "failed" and f["result"] == "failed" for f in reasons.values()), reasons
    assert "damaged or unreadable" in reasons["broken.pdf"]["detail"] or "no extractable text" in reasons["broken.pdf"]["detail"]
    assert "password" in reasons["locked.pdf"]["detail"]
    assert "zip bomb" in reasons["bomb.docx"]["detail"]
    assert "binary" in reasons["binary.md"]["detail"]
    for name, f in reasons.items():
        assert f["detail"].startswith(name), f  # each reason names its file
    assert documents(client) == before
    assert index_state(assistant) == state
    assert not any((settings.index_dir / "uploads" / name).exists() for name in reasons)


def test_a_failed_new_version_keeps_the_indexed_one(client: TestClient, index) -> None:  # type: ignore[no-untyped-def]
    settings, _, _ = index
    first = upload(client, ("keep.md", b"# Keep\n\nThe kept file counts 12 apples.\n"))["files"][0]
    assert first["result"] == "added"
    passages = documents(client)["keep.md"]["passages"]
    failed = upload(client, ("keep.md", b"\x00binary replacement"))["files"][0]
    assert failed["stage"] == "failed" and "binary" in failed["detail"]
    assert documents(client)["keep.md"]["passages"] == passages
    assert (settings.index_dir / "uploads" / "keep.md").read_bytes().startswith(b"# Keep")
    assert client.delete(f"/api/documents/{first['document_id']}").status_code == 200


def test_a_path_as_file_name_is_cut_to_the_name_and_says_so(client: TestClient, index) -> None:  # type: ignore[no-untyped-def]
    settings, _, _ = index
    job = upload(client, ("../../escape.md", b"# Escape\n\nThe escape file lists 3 doors.\n"))
    (file,) = job["files"]
    assert file["saved_as"] == "escape.md" and file["result"] == "added"
    assert "folder path" in file["note"] and "'../../escape.md'" in file["note"]
    assert (settings.index_dir / "uploads" / "escape.md").is_file()
    assert not (settings.index_dir.parent / "escape.md").exists() and not (settings.index_dir / "escape.md").exists()
    assert client.delete(f"/api/documents/{file['document_id']}").status_code == 200


def test_the_same_file_twice_is_reported_as_already_indexed_not_duplicated(client: TestClient, index) -> None:  # type: ignore[no-untyped-def]
    _, assistant, _ = index
    data = b"# Twice\n\nThe twice file was sent on 2 May 2030.\n"
    first = upload(client, ("twice.md", data))["files"][0]
    assert first["result"] == "added"
    listed, state = documents(client), index_state(assistant)
    again = upload(client, ("twice.md", data), ("twice-copy.md", data))["files"]
    assert again[0]["stage"] == "done" and again[0]["result"] == "unchanged" and "already indexed" in again[0]["detail"]
    assert again[1]["stage"] == "done" and again[1]["result"] == "duplicate" and "'twice.md'" in again[1]["detail"]
    assert documents(client) == listed and index_state(assistant) == state
    copy = client.get("/api/documents").json()["documents"]
    assert "twice-copy.md" not in {d["source"] for d in copy}
    assert client.delete(f"/api/documents/{first['document_id']}").status_code == 200


def test_one_bad_file_does_not_stop_the_good_ones_of_its_upload(client: TestClient) -> None:
    job = upload(client, ("bad.pdf", b"%PDF-1.4 junk"), ("good.txt", b"The good text file mentions 8 owls.\n"))
    stages = {f["saved_as"]: f["result"] for f in job["files"]}
    assert stages == {"bad.pdf": "failed", "good.txt": "added"}
    good = documents(client)["good.txt"]
    assert client.delete(f"/api/documents/{good['id']}").status_code == 200


def test_unknown_ids_answer_404(client: TestClient) -> None:
    assert_error(client.get("/api/documents/jobs/nope"), 404, "nope")
    assert_error(client.delete("/api/documents/0000000000000000"), 404, "0000000000000000")


# --- who may change the documents ------------------------------------------------------------------------------------
def test_with_a_key_every_documents_route_needs_it(index) -> None:  # type: ignore[no-untyped-def]
    keyed = app_with(index, api_key=KEY)
    assert_error(keyed.get("/api/documents"), 401, "API key")
    assert_error(keyed.post("/api/documents", files={"files": ("a.md", b"# A\n\nA.\n")}), 401)
    assert_error(keyed.delete("/api/documents/0000000000000000"), 401)
    assert_error(keyed.get("/api/documents/jobs/x"), 401)
    assert keyed.get("/api/documents", headers={"X-API-Key": KEY}).status_code == 200
    assert keyed.get("/api/documents", headers={"Authorization": f"Bearer {KEY}"}).json()["count"] >= 2
    ops = keyed.get("/openapi.json").json()["paths"]
    for path, method in (("/api/documents", "get"), ("/api/documents", "post"), ("/api/documents/jobs/{job_id}", "get"),
                         ("/api/documents/{document_id}", "delete")):
        assert ops[path][method]["security"], (path, method)
    assert "multipart/form-data" in ops["/api/documents"]["post"]["requestBody"]["content"]


def test_a_read_only_server_lists_but_refuses_upload_and_delete(index, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    read_only = app_with(index, read_only=True)
    law = documents(client)["corpus/ai-law.md"]
    assert read_only.get("/api/documents").status_code == 200
    assert_error(read_only.post("/api/documents", files={"files": ("a.md", b"# A\n\nA.\n")}), 403, "RAG_READ_ONLY")
    assert_error(read_only.delete(f"/api/documents/{law['id']}"), 403, "read-only")
    assert documents(client)["corpus/ai-law.md"] == law


def test_without_an_ingester_uploads_say_how_to_enable_them(index) -> None:  # type: ignore[no-untyped-def]
    settings, assistant, _ = index
    bare = TestClient(create_app(settings, assistant, chat=False), raise_server_exceptions=False)
    assert bare.get("/api/documents").status_code == 200
    assert_error(bare.post("/api/documents", files={"files": ("a.md", b"# A\n\nA.\n")}), 503, "python app.py")
    assert_error(bare.delete("/api/documents/0000000000000000"), 503, "not enabled")


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/documents"])
    assert "get" in paths["/api/documents/jobs/{job_id}"] and "delete" in paths["/api/documents/{document_id}"]
    assert "202" in paths["/api/documents"]["post"]["responses"]
    assert "security" not in paths["/api/documents"]["get"]  # no key on this server


# --- the same list over MCP ------------------------------------------------------------------------------------------
def test_the_mcp_list_documents_tool_lists_what_the_api_lists(index, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    import anyio
    from mcp import Client

    from rag.mcp.server import build_server

    settings, assistant, _ = index

    async def call() -> Any:
        async with Client(build_server(assistant, settings)) as mcp_client:
            tools = {t.name: t for t in (await mcp_client.list_tools()).tools}
            return tools["list_documents"], await mcp_client.call_tool("list_documents", {})

    tool, result = anyio.run(call)
    assert tool.annotations.read_only_hint and tool.output_schema
    assert not result.is_error
    listed = result.structured_content
    api = client.get("/api/documents").json()
    assert listed["count"] == api["count"]
    assert [(d["id"], d["source"], d["passages"]) for d in listed["documents"]] == [
        (d["id"], d["source"], d["passages"]) for d in api["documents"]
    ]
    assert listed["documents"][0]["uri"].startswith("doc://")


# --- the ingester and the page's choice ------------------------------------------------------------------------------
def test_the_ingester_reports_reading_then_embedding_and_commits_the_file(index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, ingester = index
    path = tmp_path / "stages.md"
    path.write_text("# Stages\n\nThe stages file names 4 stages.\n", encoding="utf-8")
    stages: list[str] = []
    outcome = ingester.ingest_file(path, stages.append)
    assert stages == ["reading", "embedding"] and outcome.result == "added" and outcome.source == "stages.md"
    assert ingester.ingest_file(path, stages.append).result == "unchanged"
    assert ingester.remove("stages.md") >= 1 and ingester.remove("stages.md") == 0


def test_the_page_offers_upload_only_where_it_cannot_bypass_a_key_or_read_only(index) -> None:  # type: ignore[no-untyped-def]
    from rag.catalog import Catalog
    from rag.upload_jobs import Uploads
    from rag.web.documents_view import writable_reason

    settings, assistant, ingester = index
    catalog = Catalog(lambda: assistant.store)
    assert writable_reason(Uploads(settings, ingester, catalog), settings) is None
    keyed = Settings(index_dir=settings.index_dir, api_key=KEY)
    assert "API key" in (writable_reason(Uploads(keyed, ingester, catalog), keyed) or "")
    read_only = Settings(index_dir=settings.index_dir, read_only=True)
    assert "read-only" in (writable_reason(Uploads(read_only, ingester, catalog), read_only) or "")
    assert "not enabled" in (writable_reason(Uploads(settings, None, catalog), settings) or "")
