"""The sitting's record for the exam board as a PDF (A4 landscape, as many pages as it takes): the same record as the
CSV (`invigilation_selectors.sitting_record`), each candidate and each log entry a block of "label: value" pairs.

Written as the admission slip is (exams/slip.py): its embedded font, Noto Serif SC cut down to the record's own
characters, so Chinese names read the same on every machine."""

from __future__ import annotations

import zlib

from exams.invigilation_selectors import SittingRecord
from exams.slip import _SlipFont, _text, _wrap  # the slip's font and text helpers, shared within the app

PAGE_WIDTH = 841.89  # A4 landscape, in points
PAGE_HEIGHT = 595.28
_MARGIN = 40.0
_SIZE = 8.0
_LEADING = 11.0
_WRAP = 190  # characters per line (a CJK character counts two)
_LINES_PER_PAGE = int((PAGE_HEIGHT - 2 * _MARGIN - 20) // _LEADING)


def _pairs(header: list[str], values: list[str]) -> str:
    return " · ".join(f"{label}: {value}" for label, value in zip(header, values, strict=True) if value)


def record_lines(record: SittingRecord, *, title: str, candidates: str, log: str) -> list[tuple[str, bool]]:
    """The record as (line, is a heading) in reading order, wrapped to the page's width."""
    lines: list[tuple[str, bool]] = [(title, True)]
    lines += [(" · ".join(v for v in row if v), False) for row in record.head]
    lines += [("", False), (candidates, True)]
    for row in record.candidates:
        lines += [(text, False) for text in _wrap(_pairs(record.candidate_header, row), _WRAP)]
    lines += [("", False), (log, True)]
    for row in record.log:
        lines += [(text, False) for text in _wrap(_pairs(record.log_header, row), _WRAP)]
    return lines


def sitting_record_pdf(record: SittingRecord, *, title: str, candidates: str, log: str, page_label: str) -> bytes:
    """The record as PDF bytes. `page_label` has {page} and {pages} ("Page {page} of {pages}")."""
    lines = record_lines(record, title=title, candidates=candidates, log=log)
    pages = [lines[start : start + _LINES_PER_PAGE] for start in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    labels = [page_label.format(page=n, pages=len(pages)) for n in range(1, len(pages) + 1)]
    font = _SlipFont("".join(text for text, _heading in lines) + "".join(labels))
    streams = []
    for page_lines, label in zip(pages, labels, strict=True):
        out = []
        y = PAGE_HEIGHT - _MARGIN
        for text, heading in page_lines:
            if text:
                out.append(_text(font, _MARGIN, y, _SIZE + 3 if heading else _SIZE, text, grey=False))
            y -= _LEADING + (4 if heading else 0)
        out.append(_text(font, _MARGIN, _MARGIN - 16, 7, label, grey=True))
        streams.append(zlib.compress("".join(out).encode("ascii"), 6))

    count = len(pages)
    # Objects: 1 catalog, 2 pages, 3-5 the font (Type0, CIDFont, descriptor), 6 font program, 7 ToUnicode,
    # then a page and its contents for each page.
    first_page = 8
    kids = " ".join(f"{first_page + 2 * n} 0 R" for n in range(count))
    widths = " ".join(f"{glyph} [{width}]" for glyph, width in sorted(font.widths.items()))
    to_unicode = zlib.compress(font.to_unicode(), 6)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        (
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{font.postscript_name} /Encoding /Identity-H "
            "/DescendantFonts [4 0 R] /ToUnicode 7 0 R >>"
        ).encode(),
        (
            f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /{font.postscript_name} "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 5 0 R "
            f"/DW 1000 /W [{widths}] >>"
        ).encode(),
        (
            f"<< /Type /FontDescriptor /FontName /{font.postscript_name} /Flags 6 /FontBBox [-1000 -1000 3000 3000] "
            "/ItalicAngle 0 /Ascent 1160 /Descent -288 /CapHeight 733 /StemV 80 /FontFile3 6 0 R >>"
        ).encode(),
        f"<< /Subtype /OpenType /Length {len(font.program)} >>\nstream\n".encode() + font.program + b"\nendstream",
        f"<< /Length {len(to_unicode)} /Filter /FlateDecode >>\nstream\n".encode() + to_unicode + b"\nendstream",
    ]
    for n, stream in enumerate(streams):
        contents = first_page + 2 * n + 1
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {contents} 0 R >>"
            ).encode()
        )
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream")
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
