"""Reading the PDFs the app writes, from PyPI libraries (no poppler): text and pages through
PDFium (pypdfium2), the document's structure and fonts through pypdf."""

import io
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pypdfium2 as pdfium
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

ROOT = Path(__file__).resolve().parents[2]


def pdf_text(document: bytes) -> str:
    """The text of every page, a line per line of text, in the order the page draws it."""
    pdf = pdfium.PdfDocument(document)
    try:
        pages = []
        for page in pdf:
            text_page = page.get_textpage()
            pages.append(text_page.get_text_bounded().replace("\r\n", "\n"))
            text_page.close()
            page.close()
        return "\n".join(pages)
    finally:
        pdf.close()


def pdf_page_image(document: bytes, *, dpi: int = 150, system_fonts: bool = True) -> Image.Image:
    """The first page, rendered in greyscale at `dpi`.

    With `system_fonts=False` PDFium renders in a child process that it may not take any font
    from the machine for: all that is drawn comes from the PDF itself.
    """
    if system_fonts:
        return Image.open(io.BytesIO(_render_png(document, dpi))).convert("L")
    png = subprocess.run(
        [sys.executable, "-c", _RENDER_WITHOUT_SYSTEM_FONTS, str(dpi)],
        input=document,
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return Image.open(io.BytesIO(png)).convert("L")


def _render_png(document: bytes, dpi: int) -> bytes:
    pdf = pdfium.PdfDocument(document)
    try:
        page = pdf[0]
        image = page.render(scale=dpi / 72).to_pil()
        page.close()
    finally:
        pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


_RENDER_WITHOUT_SYSTEM_FONTS = """
import sys
import pypdfium2.raw
pypdfium2.raw.FPDF_SetSystemFontInfo(None)  # no font from the machine, only PDFium's own Latin ones
from tests.support.pdf import _render_png
sys.stdout.buffer.write(_render_png(sys.stdin.buffer.read(), int(sys.argv[1])))
"""


@dataclass(frozen=True)
class PdfInfo:
    pages: int
    width: float  # of the first page, in points
    height: float


def pdf_info(document: bytes) -> PdfInfo:
    reader = PdfReader(io.BytesIO(document))
    box = reader.pages[0].mediabox
    return PdfInfo(pages=len(reader.pages), width=float(box.width), height=float(box.height))


@dataclass(frozen=True)
class PdfFont:
    """A font of a page's resources, as `pdffonts` reports it."""

    name: str  # "ABCDEF+NotoSansCJKsc-Regular"
    type: str  # "CID TrueType" for a Type0 font over a CIDFontType2
    encoding: str  # "Identity-H"
    embedded: bool  # its font program is in the file (and parses as one)
    subset: bool  # named with a six-letter subset tag
    unicode: bool  # has a ToUnicode map


_TYPES = {"CIDFontType2": "CID TrueType", "CIDFontType0": "CID Type 1C"}


def pdf_fonts(document: bytes) -> list[PdfFont]:
    """The fonts the pages use, with the checks `pdffonts` makes."""
    reader = PdfReader(io.BytesIO(document))
    found = []
    for page in reader.pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for reference in cast(DictionaryObject, resources["/Font"].get_object()).values():
            font: DictionaryObject = reference.get_object()
            name = str(font["/BaseFont"]).lstrip("/")
            if font["/Subtype"] == "/Type0":
                descendants = cast(ArrayObject, font["/DescendantFonts"].get_object())
                descendant = cast(DictionaryObject, descendants[0].get_object())
                kind = _TYPES.get(str(descendant["/Subtype"]).lstrip("/"), str(descendant["/Subtype"]))
            else:
                descendant = font
                kind = str(font["/Subtype"]).lstrip("/")
            descriptor = cast(DictionaryObject, descendant["/FontDescriptor"].get_object())
            program = descriptor.get("/FontFile2")
            embedded = False
            if program is not None:
                outlines = TTFont(io.BytesIO(program.get_object().get_data()))
                outlines["glyf"], outlines["head"]  # raises unless a TrueType font
                embedded = True
            found.append(
                PdfFont(
                    name=name,
                    type=kind,
                    encoding=str(font.get("/Encoding", "")).lstrip("/"),
                    embedded=embedded,
                    subset=re.fullmatch(r"[A-Z]{6}\+.+", name) is not None,
                    unicode="/ToUnicode" in font,
                )
            )
    return found
