"""OCR for PDF pages without a text layer (scans): pypdfium2 renders the page, Debian's tesseract reads it.

Tesseract is a system program, not a Python package: `make ocr` installs it with the language data of the
corpus (English, Russian, German, Kazakh), as `make test` and `make run` do. Without it, scanned pages are left
out and reported (`INSTALL_HINT`); the pages with a text layer still ingest.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache

log = logging.getLogger(__name__)

OCR_LANGUAGES = ("eng", "rus", "deu", "kaz")  # tesseract's codes; the languages ministries publish in
INSTALL_HINT = (
    "install tesseract for OCR: `make ocr`, or `apt-get install tesseract-ocr tesseract-ocr-rus "
    "tesseract-ocr-deu tesseract-ocr-kaz`"
)
DPI = 300  # tesseract's documented sweet spot for body text; 150 loses small print
PAGE_TIMEOUT_S = 300  # one page, several languages, on a busy machine
_HYPHENATED = re.compile(r"(?<=[a-zäöüßа-яёәғқңөұүһі])-\n(?=[a-zäöüßа-яёәғқңөұүһі])")
# A line break inside a paragraph is the scan's layout, not the text's (a list item's line break is kept).
_LAYOUT_BREAK = re.compile(r"(?<!\n)\n(?!\n|[ \t]*(?:[-*•]\s|\d{1,3}[.)]\s))")


@cache
def find_tesseract() -> tuple[str, str] | None:
    """(the tesseract binary, its "-l" argument of the wanted languages it has), or None when it is missing."""
    binary = shutil.which("tesseract")
    if binary is None:
        return None
    try:
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("tesseract at %s does not run (%s): %s", binary, exc, INSTALL_HINT)
        return None
    installed = set((listed.stdout + listed.stderr).split())
    languages = [code for code in OCR_LANGUAGES if code in installed]
    missing = [code for code in OCR_LANGUAGES if code not in installed]
    if not languages:
        log.warning("tesseract has none of the languages %s: %s", ", ".join(OCR_LANGUAGES), INSTALL_HINT)
        return None
    if missing:
        log.warning(
            "tesseract lacks the language data %s (scans in them read poorly): %s", ", ".join(missing), INSTALL_HINT
        )
    return binary, "+".join(languages)


def clean_ocr_text(text: str) -> str:
    """Tesseract's output as document text: no form feeds, a paragraph's lines (and split words) joined."""
    text = text.replace("\x0c", "\n")
    text = "\n".join(line.strip() for line in text.splitlines())
    text = _LAYOUT_BREAK.sub(" ", _HYPHENATED.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _render(pdf: object, index: int) -> bytes:
    page = pdf[index]  # type: ignore[index]
    image = page.render(scale=DPI / 72, grayscale=True).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _tesseract(binary: str, languages: str, png: bytes) -> str:
    # One thread per tesseract: its OpenMP threads only slow it down on a shared machine (tesseract's own advice).
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [binary, "stdin", "stdout", "-l", languages, "--psm", "3"],
        input=png,
        capture_output=True,
        timeout=PAGE_TIMEOUT_S,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit status {done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def ocr_pages(data: bytes, indexes: Sequence[int], name: str) -> dict[int, str] | None:
    """The text tesseract reads on each page (0-based `indexes`) of the PDF `data`; None without tesseract.

    A page that cannot be rendered or read is logged and left out of the result."""
    found = find_tesseract()
    if found is None:
        return None
    import pypdfium2

    binary, languages = found
    texts: dict[int, str] = {}
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        log.warning("%s: cannot render the PDF for OCR (%s)", name, exc)
        return texts
    try:
        for index in indexes:
            try:
                texts[index] = clean_ocr_text(_tesseract(binary, languages, _render(pdf, index)))
            except (pypdfium2.PdfiumError, RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                log.warning("%s: OCR of page %d failed (%s)", name, index + 1, exc)
    finally:
        pdf.close()
    return texts
