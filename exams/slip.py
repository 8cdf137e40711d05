"""The admission slip: a one-page A4 PDF in English and Chinese with the seat number and a QR code.

Self-contained and small (a few KB): exams may not import certificates' font-embedding PDF writer (the layers), so
the slip uses the PDF standard's Chinese font, Adobe's STSong-Light with the UniGB-UCS2-H encoding, which PDF readers
supply themselves (Acrobat, PDFium in Chrome and Edge, pdf.js in Firefox, Preview), for every line, Latin included.
The QR code is vector squares (segno)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import segno

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


def _hex(text: str) -> str:
    """A string for the UCS-2 font: UTF-16BE in hex (characters beyond the BMP become '?')."""
    safe = "".join(ch if ord(ch) <= 0xFFFF else "?" for ch in text)
    return "<" + safe.encode("utf-16-be").hex().upper() + ">"


def _text(x: float, y: float, size: float, text: str, *, grey: bool = False) -> str:
    colour = "0.36 0.4 0.45 rg" if grey else "0.11 0.12 0.14 rg"
    return f"BT {colour} /F1 {size:g} Tf {x:.2f} {y:.2f} Td {_hex(text)} Tj ET\n"


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


def _content(fields: SlipFields) -> bytes:
    out = []
    y = PAGE_HEIGHT - 72
    out.append(_text(_LEFT, y, 22, fields.title_en))
    out.append(_text(_LEFT, y - 28, 20, fields.title_zh))
    out.append(f"0.8 0.82 0.85 RG 1 w {_LEFT} {y - 44:.2f} m {PAGE_WIDTH - _LEFT:.2f} {y - 44:.2f} l S\n")
    y -= 76
    out.append(_text(_LEFT, y, 14, fields.exam_en))
    if fields.exam_zh:
        y -= 20
        out.append(_text(_LEFT, y, 14, fields.exam_zh))
    qr_top = y - 16
    out.append(_qr(fields.qr_payload, right=PAGE_WIDTH - _LEFT, top=qr_top))
    y -= 40
    for line in fields.lines:
        out.append(_text(_LEFT, y, 9, f"{line.label_en} · {line.label_zh}", grey=True))
        out.append(_text(_LEFT, y - 16, 13, line.value))
        y -= 38
    y = min(y, qr_top - _QR_SIZE - 30)
    for note in [*_wrap(fields.notes_en, 90), "", *_wrap(fields.notes_zh, 90)]:
        out.append(_text(_LEFT, y, 9, note, grey=True))
        y -= 14
    return "".join(out).encode("ascii")


def admission_slip_pdf(fields: SlipFields) -> bytes:
    """The slip as PDF bytes."""
    stream = zlib.compress(_content(fields), 6)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).encode(),
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
        (
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R "
            b"/DW 1000 /W [1 95 500] >>"
        ),
        (
            b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
            b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
        ),
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
