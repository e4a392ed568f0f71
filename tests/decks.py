"""Decks made in the tests: PDFs (fpdf2, pypdfium2) and PPTX files (python-pptx), fair and hostile,
and a multipart upload spoken on the wire."""

from __future__ import annotations

import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path

from PIL import Image

PAGES = [  # title, a line, the colour of the disc drawn on the page
    ("Cells", "The units of life", (200, 30, 30)),
    ("Tissues", "Groups of similar cells", (30, 160, 60)),
    ("Organs", "Tissues working together", (30, 60, 200)),
]
SLIDES = [  # title, bullets, speaker notes, hidden
    ("Cells", ["Units of life", "Have a membrane"], "Cells are the smallest units of life.", False),
    ("Backstage", ["Never shown"], "This hidden slide is never spoken.", True),
    ("Tissues", ["Groups of cells"], "Tissues are groups of similar cells.", False),
]
PICTURE_COLOUR = (30, 120, 220)


def make_pdf(path: Path, pages=PAGES) -> Path:
    """A 16:9 PDF: each page a title, a line of text and a drawn disc."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="pt", format=(540, 960))
    for title, line, colour in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 40)
        pdf.text(60, 100, title)
        pdf.set_font("Helvetica", size=24)
        pdf.text(60, 160, line)
        pdf.set_fill_color(*colour)
        pdf.ellipse(600, 200, 250, 250, style="F")
    pdf.output(str(path))
    return path


def make_pptx(path: Path, picture: Path, *, notes: bool = True) -> Path:
    """A 16:9 PPTX: titles, bullets, speaker notes, a picture on the last slide, a hidden slide."""
    from pptx import Presentation
    from pptx.util import Inches

    Image.new("RGB", (400, 300), PICTURE_COLOUR).save(picture)
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    for i, (title, bullets, said, hidden) in enumerate(SLIDES):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        if notes:
            slide.notes_slide.notes_text_frame.text = said
        if hidden:
            slide._element.set("show", "0")
        if i == len(SLIDES) - 1:
            shape = slide.shapes.add_picture(str(picture), Inches(8), Inches(2), Inches(4))
            shape._element.nvPicPr.cNvPr.set("descr", "a blue square")
    deck.save(str(path))
    return path


def many_pages(path: Path, count: int = 10_000) -> Path:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    for _ in range(count):
        pdf.new_page(100, 100)
    pdf.save(str(path))
    return path


def wide_page(path: Path, width: float = 100_000, height: float = 540) -> Path:
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(width, height))
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.text(50, 50, "wide")
    pdf.output(str(path))
    return path


def truncated(pdf: Path, path: Path) -> Path:
    data = pdf.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zip_bomb(pptx: Path, path: Path, megabytes: int = 300) -> Path:
    """A real PPTX with one more member: hundreds of MB of zeros packed into a few hundred KB."""
    with zipfile.ZipFile(pptx) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            out.writestr(name, src.read(name))
        with out.open("ppt/media/image99.png", "w", force_zip64=True) as f:
            zeros = b"\0" * (1 << 20)
            for _ in range(megabytes):
                f.write(zeros)
    return path


def with_macros(pptx: Path, path: Path) -> Path:
    """The PPTX made macro-enabled, as PowerPoint saves a .pptm (renamed back to .pptx)."""
    main = b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
    macro = b"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"
    with zipfile.ZipFile(pptx) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "[Content_Types].xml":
                data = data.replace(main, macro)
            out.writestr(name, data)
        out.writestr("ppt/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    return path


def linked(pptx: Path, path: Path, target: str) -> Path:
    """The PPTX with its picture linked to a URL or file instead of embedded in it."""
    with zipfile.ZipFile(pptx) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("ppt/slides/_rels/") and b"../media/" in data:
                data = data.replace(
                    b'Target="../media/image1.png"',
                    f'Target="{target}" TargetMode="External"'.encode(),
                )
            if name.startswith("ppt/slides/slide") and b"r:embed=" in data:
                data = data.replace(b"r:embed=", b"r:link=")
            out.writestr(name, data)
    return path


def xml_bomb(pptx: Path, path: Path, parts: int = 40) -> Path:
    """The PPTX with tens of MB of XML more, in parts just under 1 MB packed into ~1 KB each."""
    filler = b"<p:ext/>" * (999_000 // 8)
    with zipfile.ZipFile(pptx) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            out.writestr(name, src.read(name))
        for n in range(parts):
            out.writestr(f"ppt/slideLayouts/filler{n}.xml", filler)
    return path


def libreoffice() -> str | None:
    return shutil.which("soffice")


def libreoffice_pdf(pptx: Path, folder: Path) -> Path:
    """Convert a PPTX with LibreOffice as a user would (hidden slides kept, to count pages)."""
    folder.mkdir(parents=True, exist_ok=True)
    options = '{"ExportHiddenSlides":{"type":"boolean","value":"true"}}'
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(folder / 'profile').resolve().as_uri()}",
            "--headless",
            "--convert-to",
            f"pdf:impress_pdf_Export:{options}",
            "--outdir",
            str(folder.resolve()),
            str(pptx.resolve()),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return folder / f"{pptx.stem}.pdf"


def multipart(fields: dict[str, str], file: Path | None, name: str = "deck") -> tuple[bytes, str]:
    """Encode a multipart/form-data body as a browser does: text fields and one file."""
    boundary = f"----form{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for key, value in fields.items()
    ]
    if file is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}";'
            f' filename="{file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + file.read_bytes()
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
