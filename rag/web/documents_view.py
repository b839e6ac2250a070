"""The page's "Documents" tab: the indexed documents, an upload control with each file's progress, and delete.

Upload and delete run the same jobs as `POST`/`DELETE /api/documents` (rag/upload_jobs.py). They are shown only
when the server can change its index: not on a read-only server (RAG_READ_ONLY), not without an ingester, and
not when the server has an API key (RAG_API_KEY). The last is a choice: the page itself has no sign-in (the chat
is open to whoever reaches it), so a key typed into it would live in the page's state and travel through
Gradio's event queue, outside the API's key check (rag/web/auth.py). One checked way in (the REST API with the
key) is safer than a second one that must repeat the check; the tab then lists the documents and says how to
upload with the key.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from ..catalog import DocumentEntry
from ..errors import RagError
from ..settings import Settings
from ..upload_jobs import JobStatus, Uploads
from . import render

log = logging.getLogger(__name__)

HEADERS = ["Title", "Source", "Language", "Date", "Passages", "Added"]
# Every column in view on a laptop screen: titles and sources wrap, the short ones keep their width.
COLUMN_WIDTHS = ["34%", "28%", "9%", "11%", "8%", "10%"]
POLL_SECONDS = 0.5
_STAGE_ICON = {"queued": "⏳", "reading": "📖", "embedding": "🧮", "done": "✅", "failed": "❌"}


def _entries(uploads: Uploads) -> list[DocumentEntry]:
    try:
        return list(uploads.catalog.entries())
    except RagError as exc:
        log.warning("no documents to list: %s", exc)
        return []


def table_rows(entries: list[DocumentEntry]) -> list[list[Any]]:
    return [
        [e.title, e.source, e.language or "", e.date or "", e.passages, (e.added or "").replace("T", " ")[:16]]
        for e in entries
    ]


def choices(entries: list[DocumentEntry]) -> list[tuple[str, str]]:
    return [(f"{e.title} ({e.source})", e.id) for e in entries]


def progress_html(job: JobStatus | None) -> str:
    """One row per file: its name, stage and what happened (the reason, for a file that failed)."""
    if job is None:
        return ""
    rows = "".join(
        f'<tr class="kz-file" data-stage="{f.stage}"><td>{render.esc(f.saved_as)}</td>'
        f'<td class="kz-stage">{_STAGE_ICON.get(f.stage, "")} {f.stage}</td>'
        f"<td>{render.esc(' '.join(x for x in (f.detail, f.note or '') if x))}</td></tr>"
        for f in job.files
    )
    state = "finished" if job.state == "finished" else "in progress"
    return f'<div id="kz-job" data-state="{job.state}"><p>Upload {state}</p><table>{rows}</table></div>'


def writable_reason(uploads: Uploads, settings: Settings) -> str | None:
    """Why this page cannot change the index (None when it can)."""
    if settings.read_only:
        return "This server is read-only: documents are added with `python -m ingest`."
    if uploads.ingester is None:
        return "Uploading is not enabled on this server (start it with `python app.py`)."
    if settings.api_key is not None:
        return (
            "This server has an API key, so uploads go through the REST API with the key: "
            "`curl -H 'X-API-Key: …' -F files=@report.pdf /api/documents` (see /docs)."
        )
    return None


class DocumentHandlers:
    """The tab's event handlers, apart from the layout so they can be called directly."""

    def __init__(self, uploads: Uploads) -> None:
        self.uploads = uploads

    def refresh(self) -> tuple[Any, Any]:
        entries = _entries(self.uploads)
        return table_rows(entries), gr.Dropdown(choices=choices(entries), value=None)

    def upload(self, paths: list[str] | None) -> tuple[Any, Any, Any, Any]:
        """(job id, progress, timer, file input): the job queued and the timer polling it."""
        if not paths:
            gr.Warning("Choose one or more files first.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below, once copied
        try:
            job = self.uploads.submit([(Path(p).name, h, Path(p).stat().st_size) for p, h in zip(paths, handles)])
        except RagError as exc:
            gr.Warning(render.esc(str(exc)), title="Not uploaded")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        finally:
            for handle in handles:
                handle.close()
        return job.id, progress_html(job), gr.Timer(active=True), None

    def poll(self, job_id: str | None) -> tuple[Any, Any, Any, Any]:
        """(progress, timer, table, delete choices): the table is refreshed once the job has finished."""
        if not job_id:
            return gr.skip(), gr.Timer(active=False), gr.skip(), gr.skip()
        try:
            job = self.uploads.job(job_id)
        except RagError:
            return "", gr.Timer(active=False), gr.skip(), gr.skip()
        if job.state != "finished":
            return progress_html(job), gr.skip(), gr.skip(), gr.skip()
        table, dropdown = self.refresh()
        return progress_html(job), gr.Timer(active=False), table, dropdown

    def delete(self, document_id: str | None) -> tuple[Any, Any]:
        if not document_id:
            gr.Warning("Choose the document to delete first.")
            return gr.skip(), gr.skip()
        try:
            entry, removed = self.uploads.remove(document_id)
        except RagError as exc:
            gr.Warning(render.esc(str(exc)), title="Not deleted")
            return gr.skip(), gr.skip()
        gr.Info(f"Deleted {render.esc(entry.title)} ({removed} passages).", duration=4)
        return self.refresh()


def build_documents_view(uploads: Uploads, settings: Settings, tab: gr.Tab) -> None:
    """The tab's content, built inside the caller's `tab`; the list is read again each time the tab is opened."""
    handlers = DocumentHandlers(uploads)
    entries = _entries(uploads)
    table = gr.Dataframe(
        value=table_rows(entries), headers=HEADERS, interactive=False, wrap=True, elem_id="kz-docs-table",
        column_widths=COLUMN_WIDTHS,
        show_label=False,
    )
    refresh = gr.Button("Refresh", size="sm", variant="secondary", elem_id="kz-docs-refresh")
    reason = writable_reason(uploads, settings)
    if reason is not None:
        gr.Markdown(reason, elem_id="kz-docs-readonly")
        for event in (refresh.click, tab.select):
            event(lambda: handlers.refresh()[0], None, [table], api_visibility="private")
        return
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            files = gr.File(
                file_count="multiple", file_types=list(uploads.suffixes), label=f"Add documents ({' '.join(uploads.suffixes)})",
                elem_id="kz-upload",
            )
            send = gr.Button("Upload and index", variant="primary", elem_id="kz-upload-send")
            progress = gr.HTML("", elem_id="kz-progress", js_on_load=None)
        with gr.Column(scale=1):
            chosen = gr.Dropdown(choices=choices(entries), value=None, label="Delete a document", elem_id="kz-delete-choice")
            delete = gr.Button("Delete", variant="stop", elem_id="kz-delete")
    job = gr.State(None)
    timer = gr.Timer(POLL_SECONDS, active=False)
    private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
    send.click(handlers.upload, [files], [job, progress, timer, files], **private)
    timer.tick(handlers.poll, [job], [progress, timer, table, chosen], **private)
    delete.click(handlers.delete, [chosen], [table, chosen], **private)
    for event in (refresh.click, tab.select):
        event(handlers.refresh, None, [table, chosen], **private)
