"""The documents routes of the REST API: list, upload (a background job), follow a job, delete.

GET    /api/documents              every indexed document (metadata only; cached per index generation)
POST   /api/documents              multipart `files`: checked at once (413/415/422 name the file), then 202 + a job
GET    /api/documents/jobs/{id}    each file's stage: queued, reading, embedding, done or failed (with the reason)
DELETE /api/documents/{id}         the document and all its vectors and BM25 entries

Upload and delete answer 403 on a read-only server (RAG_READ_ONLY) and 503 when the app has no ingester (the
routes stay in the OpenAPI document either way, so that a client learns what they would need).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..catalog import Catalog, UnknownDocument
from ..errors import RagError
from ..settings import Settings
from ..upload_jobs import UnknownJob, Uploads
from ..uploads import UploadRefused, UploadsOff
from .api_errors import ErrorOut, error
from .auth import WRONG_KEY, key_dependencies

UPLOAD_PATH = "/api/documents"


class DocumentOut(BaseModel):
    id: str = Field(..., description="Use it to delete the document.")
    source: str = Field(..., description="As in citations: the file name, or folder/file for `python -m ingest FOLDER`.")
    title: str
    language: str | None
    date: str | None
    passages: int = Field(..., description="Chunks the document is indexed as.")
    added: str | None = Field(..., description="When it was uploaded through the app (ISO 8601); null for the CLI's.")
    url: str | None = None
    kind: str | None = Field(None, description="md, txt, html, pdf, docx …")


class DocumentsOut(BaseModel):
    count: int
    documents: list[DocumentOut]


class FileStatusOut(BaseModel):
    name: str = Field(..., description="The file name as sent.")
    saved_as: str = Field(..., description="The safe name it is stored and indexed under (its `source`).")
    stage: str = Field(..., description="queued, reading, embedding, done or failed.")
    result: str | None = Field(None, description="When done: added, updated, unchanged or duplicate; failed.")
    detail: str = Field("", description="What happened; for `failed`, why.")
    note: str | None = Field(None, description="E.g. that the name was changed to a safe one.")
    source: str | None = None
    document_id: str | None = None


class JobOut(BaseModel):
    id: str
    state: str = Field(..., description="queued, running or finished.")
    created: str
    finished: str | None = None
    files: list[FileStatusOut]


class DeletedOut(BaseModel):
    id: str
    source: str
    title: str
    passages_removed: int


def _refusal(exc: RagError) -> JSONResponse:
    if isinstance(exc, UploadRefused):
        return error(exc.status, exc.code, str(exc))
    if isinstance(exc, UploadsOff):
        return error(exc.status, "read_only" if exc.status == 403 else "uploads_off", str(exc))
    if isinstance(exc, (UnknownDocument, UnknownJob)):
        return error(404, "not_found", str(exc))
    raise exc


def _responses(settings: Settings, *codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "Missing or wrong API key.",
        403: "The server is read-only (RAG_READ_ONLY).",
        404: "No document or job with this id.",
        413: "A file over RAG_MAX_FILE_MB, an upload over RAG_UPLOAD_MAX_MB, or too many files.",
        415: "A file type the app does not read.",
        422: "No files, an empty file, or a file name with no usable characters.",
        503: "No index yet (`no_index`), or uploads are not enabled on this server (`uploads_off`).",
    }
    wanted = [c for c in codes if c != 401 or settings.api_key is not None]
    return {c: {"model": ErrorOut, "description": described[c]} for c in wanted}


def build_documents_router(catalog: Catalog, uploads: Uploads, settings: Settings) -> APIRouter:
    auth = key_dependencies(settings, lambda: HTTPException(401, WRONG_KEY, headers={"WWW-Authenticate": "Bearer"}))
    router = APIRouter(prefix="/api", tags=["documents"], dependencies=auth)

    @router.get("/documents", response_model=DocumentsOut, responses=_responses(settings, 401, 503), summary="List the documents")
    def list_documents() -> dict[str, Any]:
        """Every indexed document with its passages count; `added` is set for those uploaded through the app."""
        entries = catalog.entries()
        return {"count": len(entries), "documents": [e.to_dict() for e in entries]}

    @router.post(
        "/documents",
        status_code=202,
        response_model=JobOut,
        responses=_responses(settings, 401, 403, 413, 415, 422, 503),
        summary="Upload documents (ingested in the background)",
    )
    def upload_documents(
        files: Annotated[list[UploadFile], File(description=".md .txt .html .pdf .docx files, one or more.", min_length=1)],
    ) -> Any:
        """Checks every file first (type, size, name: nothing is taken when one is refused), then ingests them
        one after another in the background. Follow `GET /api/documents/jobs/{id}`; each file is committed, and
        answered from, as soon as it is done. A file with the content of an indexed one is not indexed twice."""
        try:
            job = uploads.submit([(f.filename or "", f.file, f.size or 0) for f in files])
        except (UploadRefused, UploadsOff) as exc:
            return _refusal(exc)
        return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"{UPLOAD_PATH}/jobs/{job.id}"})

    @router.get("/documents/jobs/{job_id}", response_model=JobOut, responses=_responses(settings, 401, 404), summary="Follow an upload")
    def upload_job(job_id: str) -> Any:
        """Where each file of an upload stands; `state` is `finished` once every file is done or failed."""
        try:
            return uploads.job(job_id).to_dict()
        except UnknownJob as exc:
            return _refusal(exc)

    @router.delete(
        "/documents/{document_id}",
        response_model=DeletedOut,
        responses=_responses(settings, 401, 403, 404, 503),
        summary="Delete a document",
    )
    def delete_document(document_id: str) -> Any:
        """Removes the document's passages, vectors and BM25 entries (and its uploaded file); no other document
        changes. Waits for an upload in progress to commit first."""
        try:
            entry, removed = uploads.remove(document_id)
        except (UploadsOff, UnknownDocument) as exc:
            return _refusal(exc)
        return {"id": entry.id, "source": entry.source, "title": entry.title, "passages_removed": removed}

    return router
