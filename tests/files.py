"""Real files of every supported format (and broken ones), written by the tests themselves."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def make_pdf(path: Path, pages: list[str], title: str = "Digital Kazakhstan report", password: str | None = None) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(title)
    for text in pages:
        y = 800
        for line in _wrap(text, 90):
            pdf.drawString(50, y, line)
            y -= 14
        pdf.showPage()
    pdf.save()
    data = buffer.getvalue()
    if password:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.encrypt(password)
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    path.write_bytes(data)
    return path


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + [line] if line else lines


def make_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Programme"
    table.rows[0].cells[1].text = "Digital Kazakhstan 2018-2022"
    document.save(str(path))
    return path


def make_zip_bomb_docx(path: Path) -> Path:
    """A small file that claims to unpack to ~300 MB of zeros."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/bomb.bin", "w", force_zip64=True) as handle:
            block = b"\0" * (1024 * 1024)
            for _ in range(300):
                handle.write(block)
    return path


HTML_PAGE = """<!doctype html><html><head><title>Astana Hub annual review</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/about">About us</a> | Navigation menu text</nav>
<article>
<h1>Astana Hub annual review</h1>
<p>Astana Hub is the international technology park of Kazakhstan. It was founded in 2018 and supports start-ups with tax
benefits, office space and training programmes for software engineers from across Central Asia.</p>
<p>In its annual review, the park reported that its resident companies exported software services worth several hundred
million US dollars, most of it to markets in Europe and North America.</p>
</article>
<footer>Copyright footer text, cookie banner and other boilerplate</footer>
</body></html>"""


def _font(size: int):  # type: ignore[no-untyped-def]
    """DejaVu Sans (fonts-dejavu-core, installed by `make ocr`): it has Latin and Cyrillic, Kazakh letters too."""
    from PIL import ImageFont

    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    raise RuntimeError("DejaVuSans.ttf not found: install fonts-dejavu-core (`make ocr`)")


def scanned_page(text: str, width: int = 1240, height: int = 1754):  # type: ignore[no-untyped-def]
    """A page image as a scanner makes it (A4 at 150 dpi, no text layer) with `text` drawn on it."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(30)
    y = 120
    for line in _wrap(text, 60):
        draw.text((100, y), line, fill=0, font=font)
        y += 48
    return image


def make_scanned_pdf(path: Path, pages: list[str | None], title: str = "Scanned ministry order") -> Path:
    """A PDF whose pages are text-layer pages (str, drawn by reportlab) or scans (`"scan:" + text`: images only)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in pages:
        assert page is not None
        buffer = io.BytesIO()
        if page.startswith("scan:"):
            scanned_page(page[len("scan:") :]).save(buffer, format="PDF", resolution=150)
        else:
            make_pdf(path, [page], title=title)
            buffer.write(path.read_bytes())
        writer.append(PdfReader(io.BytesIO(buffer.getvalue())))
    writer.add_metadata({"/Title": title})
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def make_table_pdf(path: Path, intro: str, rows: list[list[str]], title: str = "Digital targets") -> Path:
    """A one-page PDF: a paragraph, then a ruled table (first row the header), as ministry reports have them."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    document = SimpleDocTemplate(str(path), pagesize=A4, title=title)
    table = Table(rows)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    document.build([Paragraph(intro, getSampleStyleSheet()["Normal"]), table])
    return path


def make_table_docx(path: Path, title: str, before: str, rows: list[list[str]], after: str) -> Path:
    """A DOCX with a paragraph, a table (first row the header) and another paragraph, in that order."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    document.add_paragraph(before)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.rows[r].cells[c].text = value
    document.add_paragraph(after)
    document.save(str(path))
    return path
