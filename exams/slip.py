"""The admission slip: a one-page A4 PDF in English and Chinese with the seat number and a QR code.

Self-contained and small (about 20 KB): exams may not import certificates' PDF writer (the layers), and a slip needs
far less of it: one font, Noto Serif SC cut down to the slip's own characters with fontTools and embedded
(CFF in an OpenType wrapper), so Chinese shows on a machine with no Chinese font. The QR code is vector
squares (segno)."""

from __future__ import annotations

import functools
import importlib.util
import io
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import segno
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.ttLib import TTFont

PAGE_WIDTH = 595.28  # A4 portrait, in points
PAGE_HEIGHT = 841.89
_LEFT = 56.0
_QR_SIZE = 150.0


@dataclass(frozen=True)
class SlipLine:
    label_en: str
    label_zh: str
    value: str


@dataclass(frozen=True)
class SlipFields:
    title_en: str
    title_zh: str
    exam_en: str
    exam_zh: str
    lines: list[SlipLine]
    qr_payload: str
    notes_en: str
    notes_zh: str


class _SlipFont:
    """Noto Serif SC (OFL, from the `pylopdf_fonts_zh_cn` wheel), cut down to the characters of one slip and embedded:
    the slip reads the same on every machine, Chinese included, with no font installed.

    The cut-down font is built anew (fontTools' FontBuilder) as a name-keyed CFF in an OpenType wrapper: for such a
    font every PDF reader draws code N with glyph N (Identity-H), whereas the source is CID-keyed and readers differ on
    how they map its CIDs. The ToUnicode map gives the text back for search and copy."""

    def __init__(self, text: str) -> None:
        with _SOURCE_LOCK:  # fontTools reads a lazily opened font's tables on first use, and not thread-safely
            self._build(text)

    def _build(self, text: str) -> None:
        source = _source_font()
        cmap: dict[int, str] = source.getBestCmap()
        glyph_set, metrics = source.getGlyphSet(), source["hmtx"].metrics
        scale = 1000 / source["head"].unitsPerEm
        codepoints = sorted({ord(ch) for ch in text if ord(ch) in cmap})
        order = [".notdef", *(f"g{index}" for index in range(1, len(codepoints) + 1))]
        sources = [".notdef", *(cmap[cp] for cp in codepoints)]
        charstrings = {}
        advances = {}
        for name, source_name in zip(order, sources, strict=True):
            advance = metrics[source_name][0]
            pen = T2CharStringPen(advance, None)
            glyph_set[source_name].draw(pen)
            charstrings[name] = pen.getCharString()
            advances[name] = (advance, 0)
        builder = FontBuilder(source["head"].unitsPerEm, isTTF=False)
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap({cp: order[index] for index, cp in enumerate(codepoints, start=1)})
        self.postscript_name = "CRDSLP+NotoSerifSC-Regular"
        builder.setupCFF(self.postscript_name, {"FullName": "Noto Serif SC"}, charstrings, {})
        builder.setupHorizontalMetrics(advances)
        builder.setupHorizontalHeader(ascent=1160, descent=-288)
        builder.setupNameTable({"familyName": "Noto Serif SC", "styleName": "Regular"})
        builder.setupOS2()
        builder.setupPost()
        out = io.BytesIO()
        builder.save(out)
        self.program = out.getvalue()
        self.glyphs: dict[int, int] = {cp: index for index, cp in enumerate(codepoints, start=1)}
        self.widths: dict[int, int] = {
            index: round(advances[order[index]][0] * scale) for index in range(1, len(order))
        }

    def encode(self, text: str) -> str:
        """`text` as a hex string of glyph ids (two bytes each); characters the font lacks draw nothing."""
        return "<" + "".join(f"{self.glyphs[ord(ch)]:04X}" for ch in text if ord(ch) in self.glyphs) + ">"

    def to_unicode(self) -> bytes:
        pairs = sorted((glyph, codepoint) for codepoint, glyph in self.glyphs.items())
        lines = [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        for start in range(0, len(pairs), 100):
            chunk = pairs[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines += [f"<{glyph:04X}> <{chr(cp).encode('utf-16-be').hex().upper()}>" for glyph, cp in chunk]
            lines.append("endbfchar")
        lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
        return "\n".join(lines).encode("ascii")


_SOURCE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _source_font() -> TTFont:
    """The source font, opened once per process (lazily: only the glyphs a slip draws are read)."""
    return TTFont(font_path(), lazy=True)


def font_path() -> Path:
    """The slip's font file, from its Python package (installed with Corridor's dependencies)."""
    spec = importlib.util.find_spec("pylopdf_fonts_zh_cn")
    for location in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / "NotoSerifSC-Regular.otf"
        if path.is_file():
            return path
    raise RuntimeError("the slip's font (NotoSerifSC-Regular.otf, package pylopdf_fonts_zh_cn) is not installed")


def _text(font: _SlipFont, x: float, y: float, size: float, text: str, *, grey: bool = False) -> str:
    colour = "0.36 0.4 0.45 rg" if grey else "0.11 0.12 0.14 rg"
    return f"BT {colour} /F1 {size:g} Tf {x:.2f} {y:.2f} Td {font.encode(text)} Tj ET\n"


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters (a CJK character counts two), broken at spaces where there are some."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for ch in paragraph:
            candidate = current + ch
            if sum(2 if ord(c) > 0x2E80 else 1 for c in candidate) > width:
                cut = current.rfind(" ")
                if cut > 0 and ch != " ":
                    lines.append(current[:cut])
                    current = current[cut + 1 :] + ch
                else:
                    lines.append(current)
                    current = ch.lstrip()
            else:
                current = candidate
        lines.append(current)
    return lines


def _qr(payload: str, *, right: float, top: float) -> str:
    qr = segno.make(payload, error="m")
    rows = [list(row) for row in qr.matrix]
    module = _QR_SIZE / len(rows)
    runs = []
    for y, row in enumerate(rows):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append(f"{start} {y} {x - start} 1 re")
            else:
                x += 1
    left = right - _QR_SIZE
    return f"q 0 0 0 rg {module:.4f} 0 0 {-module:.4f} {left:.2f} {top:.2f} cm\n" + "\n".join(runs) + "\nf Q\n"


def _content(fields: SlipFields, font: _SlipFont) -> bytes:
    out = []
    y = PAGE_HEIGHT - 72
    out.append(_text(font, _LEFT, y, 22, fields.title_en))
    out.append(_text(font, _LEFT, y - 28, 20, fields.title_zh))
    out.append(f"0.8 0.82 0.85 RG 1 w {_LEFT} {y - 44:.2f} m {PAGE_WIDTH - _LEFT:.2f} {y - 44:.2f} l S\n")
    y -= 76
    out.append(_text(font, _LEFT, y, 14, fields.exam_en))
    if fields.exam_zh:
        y -= 20
        out.append(_text(font, _LEFT, y, 14, fields.exam_zh))
    qr_top = y - 16
    out.append(_qr(fields.qr_payload, right=PAGE_WIDTH - _LEFT, top=qr_top))
    y -= 40
    for line in fields.lines:
        out.append(_text(font, _LEFT, y, 9, f"{line.label_en} · {line.label_zh}", grey=True))
        out.append(_text(font, _LEFT, y - 16, 13, line.value))
        y -= 38
    y = min(y, qr_top - _QR_SIZE - 30)
    for note in [*_wrap(fields.notes_en, 90), "", *_wrap(fields.notes_zh, 90)]:
        out.append(_text(font, _LEFT, y, 9, note, grey=True))
        y -= 14
    return "".join(out).encode("ascii")


def admission_slip_pdf(fields: SlipFields) -> bytes:
    """The slip as PDF bytes."""
    text = "".join([fields.title_en, fields.title_zh, fields.exam_en, fields.exam_zh, fields.notes_en, fields.notes_zh])
    text += "".join(f"{line.label_en} · {line.label_zh}{line.value}" for line in fields.lines)
    font = _SlipFont(text)
    stream = zlib.compress(_content(fields, font), 6)
    widths = " ".join(f"{glyph} [{width}]" for glyph, width in sorted(font.widths.items()))
    to_unicode = zlib.compress(font.to_unicode(), 6)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).encode(),
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream",
        (
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{font.postscript_name} /Encoding /Identity-H "
            "/DescendantFonts [6 0 R] /ToUnicode 9 0 R >>"
        ).encode(),
        (
            f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /{font.postscript_name} "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R "
            f"/DW 1000 /W [{widths}] >>"
        ).encode(),
        (
            f"<< /Type /FontDescriptor /FontName /{font.postscript_name} /Flags 6 /FontBBox [-1000 -1000 3000 3000] "
            "/ItalicAngle 0 /Ascent 1160 /Descent -288 /CapHeight 733 /StemV 80 /FontFile3 8 0 R >>"
        ).encode(),
        f"<< /Subtype /OpenType /Length {len(font.program)} >>\nstream\n".encode() + font.program + b"\nendstream",
        f"<< /Length {len(to_unicode)} /Filter /FlateDecode >>\nstream\n".encode() + to_unicode + b"\nendstream",
    ]
    body = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        body += f"{offset:010d} 00000 n \n".encode()
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(body)
