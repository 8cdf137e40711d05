"""Bilingual (English and Simplified Chinese) certificate PDFs, fast enough to issue in bulk.

A course's certificate template is compiled once (`certificate_template_compile`): the frame,
the art, the fixed bilingual labels, the course titles and the issuer are laid out, their
glyphs subset into embedded fonts, and every PDF object of that static part is serialised.
Each certificate is then stamped onto it (`certificate_pdf_render`): only the trainee's
names, the code, the dates, the verification URL and its QR code are laid out. The static
fonts also carry ASCII, Latin-1 letters and 年月日, so a certificate embeds only the glyphs
the template lacks (its Chinese name, mostly) in small fonts of its own. That costs about
2 ms, where rendering the whole page through HTML (WeasyPrint) costs about 94.

Fonts: Noto Sans CJK SC and Noto Serif SC from PyPI (noto-cjk-sans-otc, pylopdf-fonts-zh-cn),
and a subset of Noto Serif CJK SC Bold shipped in certificates/fonts/ (GB 2312 and Latin; see its
README): no system font is used, so a certificate is the same wherever it is issued. A name
character the bold subset lacks is drawn in Noto Sans CJK SC, which covers every CJK ideograph;
a character no font covers is refused (CertificateTextError), never drawn as a blank box. Their
outlines are CFF, which
many PDF toolkits cannot embed, so glyphs are converted one by one to TrueType outlines
(fontTools' cu2qu, error under 1/1000 em) when first needed (about 2 ms a glyph) and cached
for the life of the process. Each PDF embeds TrueType
subsets (CIDFontType2, Identity-H) with ToUnicode maps, so the page renders without the font
installed and its text can be searched and copied.

The QR code comes from zxing-cpp's encoder (0.4 ms, with the standard's mask selection),
where segno takes 13 ms (2.6 ms with a fixed mask) and ReportLab's widget 20 ms.

Output is deterministic: the same template and fields give the same bytes, and so the same
checksum when an interrupted issuing run renders a certificate again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import re
import struct
import threading
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import zxingcpp
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont

__all__ = [
    "CertificateFields",
    "CertificateTemplate",
    "CertificateTextError",
    "CjkFontNotFoundError",
    "Signatory",
    "TemplateText",
    "certificate_pdf_render",
    "certificate_template_compile",
    "cjk_font_path",
]

PAGE_WIDTH = 841.89  # A4 landscape, in points
PAGE_HEIGHT = 595.28

DEFAULT_ISSUER_EN = "Corridor Training Consortium · Singapore · Chongqing"
DEFAULT_ISSUER_ZH = "Corridor 培训联盟 · 新加坡 · 重庆"

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# The font files, by (family, bold): two from PyPI packages (dependencies), one shipped here.
_FONT_FILES: dict[tuple[str, bool], tuple[str, str]] = {
    ("Noto Sans CJK SC", False): ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),
    ("Noto Serif SC", False): ("pylopdf_fonts_zh_cn", "NotoSerifSC-Regular.otf"),
    ("Noto Serif CJK SC", True): ("certificates", "fonts/NotoSerifCJKsc-Bold-GB2312.otf"),
}


class CjkFontNotFoundError(RuntimeError):
    """A certificate font is missing: its package is not installed, or no such face is known."""


class CertificateTextError(ValueError):
    """A text holds characters that the certificate fonts cannot draw."""


# --- Public data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signatory:
    name: str  # as printed, in one or both scripts: "Dr Lim Hui Min 林慧敏"
    title_en: str
    title_zh: str


@dataclass(frozen=True)
class TemplateText:
    """The part of a certificate shared by every trainee of a course template."""

    course_title_en: str
    course_title_zh: str
    issuer_en: str = DEFAULT_ISSUER_EN
    issuer_zh: str = DEFAULT_ISSUER_ZH
    signatories: tuple[Signatory, ...] = ()  # at most two are printed
    detail: str = ""  # a line under the course title: the internship a certificate names, say
    accent_colour: str = "#1F4E79"  # "#RRGGBB"


@dataclass(frozen=True)
class CertificateFields:
    """One trainee's certificate. `name_zh` may be empty when no Chinese name is known."""

    name_en: str
    name_zh: str
    code: str  # "CRD-7K4M-9QXT"
    issued_on: date
    verify_url: str


@dataclass(frozen=True)
class _FaceKey:
    path: str
    family: str  # "Noto Serif SC"
    bold: bool


@dataclass(frozen=True)
class _Faces:
    sans: _FaceKey
    serif: _FaceKey
    serif_bold: _FaceKey


@dataclass(frozen=True)
class CertificateTemplate:
    """A compiled template: the serialised static part of the PDF. Picklable; immutable.

    Rendering from an unpickled template in a fresh process loads the fonts there once
    (about half a second); compile a template in each worker at start-up to pay it early.
    """

    text: TemplateText
    faces: _Faces
    sans: _SeededFont = field(repr=False)  # the static fonts' glyphs that fields may use
    names: _SeededFont = field(repr=False)
    prefix: bytes = field(repr=False)  # header and static objects 1..n
    offsets: tuple[int, ...] = field(repr=False)  # byte offset of each static object
    digest: bytes = field(repr=False)


# --- Fonts -----------------------------------------------------------------------------------


def cjk_font_path(family: str = "Noto Sans CJK SC", *, bold: bool = False) -> Path:
    """The font file holding `family` (one of the certificate's faces), from its package.

    Raises CjkFontNotFoundError when the face is unknown or its package is not installed.
    """
    found = _FONT_FILES.get((family, bold))
    if found is None:
        known = ", ".join(f"{name} ({'Bold' if heavy else 'Regular'})" for name, heavy in _FONT_FILES)
        raise CjkFontNotFoundError(f"no certificate font {family!r} ({'Bold' if bold else 'Regular'}); known: {known}")
    package, name = found
    try:
        spec = importlib.util.find_spec(package)
    except ImportError:
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / name
        if path.is_file():
            return path
    raise CjkFontNotFoundError(
        f"font {family!r} is missing ({name} in the Python package {package!r}):"
        " install Corridor's dependencies (`make install`)"
    )


@dataclass(frozen=True, slots=True)
class _Glyph:
    advance: int  # in font units (1000 per em for Noto CJK)
    data: bytes  # a TrueType `glyf` entry, padded to 4 bytes; empty for a blank glyph
    x_min: int
    y_min: int
    x_max: int
    y_max: int
    points: int
    contours: int


class _Face:
    """One face of a Noto CJK font, with its glyphs converted to TrueType on demand."""

    def __init__(self, key: _FaceKey) -> None:
        fonts = TTCollection(key.path, lazy=True).fonts if key.path.endswith(".ttc") else [TTFont(key.path, lazy=True)]
        style = "Bold" if key.bold else "Regular"
        for font in fonts:
            names = font["name"]
            if names.getDebugName(1) == key.family and names.getDebugName(2) == style:
                break
        else:
            raise CjkFontNotFoundError(f"{key.path} has no face {key.family!r} ({style})")
        self.key = key
        self.postscript_name: str = names.getDebugName(6) or key.family.replace(" ", "")
        self.units_per_em: int = font["head"].unitsPerEm
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        self.bbox = (head.xMin, head.yMin, head.xMax, head.yMax)
        self.dates = (head.created, head.modified)
        self.ascent: int = hhea.ascent
        self.descent: int = hhea.descent
        self.cap_height: int = os2.sCapHeight
        self._cmap: dict[int, str] = font.getBestCmap()
        self._glyph_set = font.getGlyphSet()
        self._metrics = font["hmtx"].metrics
        self._glyphs: dict[int, _Glyph] = {}
        self._lock = threading.Lock()  # fontTools decompiles lazily and is not thread-safe

    def covers(self, codepoint: int) -> bool:
        return codepoint in self._cmap

    def glyph(self, codepoint: int) -> _Glyph:
        glyph = self._glyphs.get(codepoint)
        if glyph is None:
            with self._lock:
                glyph = self._glyphs.get(codepoint) or self._glyph_convert(codepoint)
                self._glyphs[codepoint] = glyph
        return glyph

    def _glyph_convert(self, codepoint: int) -> _Glyph:
        name = self._cmap[codepoint]
        pen = TTGlyphPen(None)
        # CFF contours run counter-clockwise, TrueType's clockwise.
        self._glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        outline = pen.glyph(dropImpliedOnCurves=True)
        data = outline.compile(None) if outline.numberOfContours else b""
        data += b"\0" * (-len(data) % 4)
        if not data:
            return _Glyph(self._metrics[name][0], b"", 0, 0, 0, 0, 0, 0)
        return _Glyph(
            advance=self._metrics[name][0],
            data=data,
            x_min=outline.xMin,
            y_min=outline.yMin,
            x_max=outline.xMax,
            y_max=outline.yMax,
            points=len(outline.coordinates),
            contours=outline.numberOfContours,
        )


@functools.lru_cache(maxsize=8)
def _face(key: _FaceKey) -> _Face:
    return _Face(key)


def _faces_find() -> _Faces:
    def key(family: str, bold: bool) -> _FaceKey:
        return _FaceKey(str(cjk_font_path(family, bold=bold)), family, bold)

    return _Faces(
        sans=key("Noto Sans CJK SC", False),
        serif=key("Noto Serif SC", False),
        serif_bold=key("Noto Serif CJK SC", True),
    )


class _Font(Protocol):
    @property
    def resource(self) -> str:
        """The name content streams select the font by ("/S0")."""
        ...

    def lookup(self, codepoint: int) -> tuple[int, int] | None:
        """The glyph id and advance (in 1/1000 em) drawing `codepoint`; None if not covered."""
        ...


@dataclass(frozen=True)
class _SeededFont:
    """A static font of the template, seen from the fields stamped on it: a fixed glyph map."""

    resource: str
    glyphs: dict[int, tuple[int, int]]

    def lookup(self, codepoint: int) -> tuple[int, int] | None:
        return self.glyphs.get(codepoint)


class _Subset:
    """The glyphs of one face used by one part of the PDF, embedded as a Type0 font."""

    def __init__(self, face: _Face, resource: str) -> None:
        self.face = face
        self.resource = resource
        self._lookups: dict[int, tuple[int, int]] = {}
        self._codepoints: list[int] = []
        self._glyphs: list[_Glyph] = []
        self._scale = 1000 / face.units_per_em

    def lookup(self, codepoint: int) -> tuple[int, int] | None:
        found = self._lookups.get(codepoint)
        if found is None and self.face.covers(codepoint):
            glyph = self.face.glyph(codepoint)
            self._codepoints.append(codepoint)
            self._glyphs.append(glyph)
            found = self._lookups[codepoint] = (len(self._glyphs), round(glyph.advance * self._scale))
        return found

    def seeded(self) -> _SeededFont:
        return _SeededFont(self.resource, dict(self._lookups))

    def objects(self, first: int) -> list[bytes]:
        """The font's five PDF objects, numbered from `first`."""
        face = self.face
        scale = self._scale
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(self._codepoints).encode()).digest()[:6])
        widths = f"/W [1 [{' '.join(str(advance) for _, advance in self._lookups.values())}]] " if self._glyphs else ""
        x_min, y_min, x_max, y_max = (round(v * scale) for v in face.bbox)
        bold = face.key.bold
        flags = 4 | (2 if "Serif" in face.key.family else 0) | (1 << 18 if bold else 0)
        name = f"{tag}+{face.postscript_name}"
        sfnt = self._sfnt()
        return [
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H"
            f" /DescendantFonts [{first + 1} 0 R] /ToUnicode {first + 4} 0 R >>".encode(),
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name}"
            f" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
            f" /FontDescriptor {first + 2} 0 R /DW 1000 {widths}/CIDToGIDMap /Identity >>".encode(),
            f"<< /Type /FontDescriptor /FontName /{name} /Flags {flags}"
            f" /FontBBox [{x_min} {y_min} {x_max} {y_max}] /ItalicAngle 0"
            f" /Ascent {round(face.ascent * scale)} /Descent {round(face.descent * scale)}"
            f" /CapHeight {round(face.cap_height * scale)} /StemV {120 if bold else 80}"
            f" /FontWeight {700 if bold else 400} /FontFile2 {first + 3} 0 R >>".encode(),
            _stream(sfnt, f"/Length1 {len(sfnt)} "),
            _stream(self._to_unicode()),
        ]

    def _to_unicode(self) -> bytes:
        lines = [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        pairs = [(gid, chr(cp).encode("utf-16-be").hex()) for gid, cp in enumerate(self._codepoints, start=1)]
        for start in range(0, len(pairs), 100):
            chunk = pairs[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines.extend(f"<{gid:04x}> <{utf16}>" for gid, utf16 in chunk)
            lines.append("endbfchar")
        lines.append("endcmap CMapName currentdict /CMap defineresource pop end end")
        return "\n".join(lines).encode()

    def _sfnt(self) -> bytes:
        """A minimal TrueType font (the tables a PDF's FontFile2 needs), glyph id = CID."""
        face = self.face
        glyphs = [_Glyph(face.units_per_em // 2, b"", 0, 0, 0, 0, 0, 0), *self._glyphs]  # 0: .notdef
        count = len(glyphs)
        loca = [0]
        for g in glyphs:
            loca.append(loca[-1] + len(g.data))
        drawn = [g for g in glyphs if g.data] or glyphs[:1]
        x_min, y_min, x_max, y_max = face.bbox
        tables = {
            b"glyf": b"".join(g.data for g in glyphs),
            b"head": struct.pack(
                ">HHiIIHHqqhhhhHHhhh",
                *(1, 0, 0x10000, 0, 0x5F0F3CF5, 0b1011, face.units_per_em, *face.dates),
                *(x_min, y_min, x_max, y_max, 0, 8, 2, 1, 0),
            ),
            b"hhea": struct.pack(
                ">HHhhhHhhhhhhhhhhhH",
                *(1, 0, face.ascent, face.descent, 0, max(g.advance for g in glyphs)),
                *(min(g.x_min for g in drawn), min(g.advance - g.x_max for g in drawn)),
                *(max(g.x_max for g in drawn), 1, 0, 0, 0, 0, 0, 0, 0, count),
            ),
            b"hmtx": b"".join(struct.pack(">Hh", g.advance, g.x_min) for g in glyphs),
            b"loca": struct.pack(f">{count + 1}I", *loca),
            b"maxp": struct.pack(
                ">IHHHHHHHHHHHHHH",
                *(0x10000, count, max(g.points for g in glyphs), max(g.contours for g in glyphs)),
                *(0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
            ),
            b"post": struct.pack(">IIhhIIIII", 0x30000, 0, -100, 50, 0, 0, 0, 0, 0),
        }
        return _sfnt_pack(tables)


def _sfnt_pack(tables: dict[bytes, bytes]) -> bytes:
    count = len(tables)
    power = 1 << (count.bit_length() - 1)
    directory = bytearray(
        struct.pack(">IHHHH", 0x10000, count, power * 16, power.bit_length() - 1, (count - power) * 16)
    )
    body = bytearray()
    offset = 12 + 16 * count
    for tag in sorted(tables):
        data = tables[tag]
        padded = data + b"\0" * (-len(data) % 4)
        checksum = sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF
        directory += struct.pack(">4sIII", tag, checksum, offset + len(body), len(data))
        body += padded
    return bytes(directory + body)


# --- Drawing ---------------------------------------------------------------------------------


def _stream(data: bytes, extra: str = "", *, level: int = 6) -> bytes:
    if len(data) > 600:
        data = zlib.compress(data, level)
        extra = f"/Filter /FlateDecode {extra}"
    # else: not worth it; here zlib spends some 60 µs setting up, even for a few bytes.
    return f"<< /Length {len(data)} {extra}>>\nstream\n".encode() + data + b"\nendstream"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _colour(hex_colour: str, *, tint: float = 0.0) -> tuple[float, float, float]:
    """`hex_colour` mixed with `tint` parts of white."""
    value = hex_colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"accent colour must be #RRGGBB, not {hex_colour!r}")
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r + (1 - r) * tint, g + (1 - g) * tint, b + (1 - b) * tint)


def _rgb(colour: tuple[float, float, float]) -> str:
    return " ".join(_num(c) for c in colour)


_INK = (0.11, 0.12, 0.14)
_GREY = (0.36, 0.4, 0.45)


class _Content:
    """A page content stream being written."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.tracking = 0.0

    def raw(self, operators: str) -> None:
        self.parts.append(operators.encode())

    def text(
        self,
        fonts: tuple[_Font, ...],
        size: float,
        x: float,
        y: float,
        text: str,
        *,
        colour: tuple[float, float, float] = _INK,
        align: str = "centre",
        max_width: float | None = None,
        tracking: float = 0.0,
    ) -> None:
        """Draw one line with its baseline at `y`, shrunk to `max_width`.

        Each character is drawn with the first of `fonts` that covers it.
        """
        text = unicodedata.normalize("NFC", text)
        if not text:
            return
        runs: list[tuple[str, bytearray]] = []
        current: _Font | None = None
        advance = 0
        for char in text:
            codepoint = ord(char)
            for font in fonts:
                found = font.lookup(codepoint)
                if found is not None:
                    break
            else:
                raise CertificateTextError(f"no certificate font can draw {char!r} (U+{codepoint:04X}) in {text!r}")
            if font is not current:
                current = font
                runs.append((font.resource, bytearray()))
            runs[-1][1].extend(found[0].to_bytes(2, "big"))
            advance += found[1]
        width = advance * size / 1000 + tracking * (len(text) - 1)
        if max_width is not None and width > max_width:
            size *= max_width / width
            tracking *= max_width / width
            width = max_width
        if align == "centre":
            x -= width / 2
        elif align == "right":
            x -= width
        # Tc outlives BT/ET: set it whenever it changes.
        spacing = f"{_num(tracking)} Tc " if tracking != self.tracking else ""
        self.tracking = tracking
        size_text = _num(size)
        shows = "".join(f"{resource} {size_text} Tf <{glyphs.hex()}> Tj " for resource, glyphs in runs)
        self.parts.append(f"BT {_rgb(colour)} rg {spacing}1 0 0 1 {_num(x)} {_num(y)} Tm {shows}ET\n".encode())

    def serialise(self) -> bytes:
        # q/Q: the page's content streams are concatenated, so each restores the state it found.
        return b"".join((b"q\n", *self.parts, b"Q\n"))


def _ellipse(rx: float, ry: float) -> str:
    k = 0.5523
    return (
        f"{_num(rx)} 0 m {_num(rx)} {_num(ry * k)} {_num(rx * k)} {_num(ry)} 0 {_num(ry)} c "
        f"{_num(-rx * k)} {_num(ry)} {_num(-rx)} {_num(ry * k)} {_num(-rx)} 0 c "
        f"{_num(-rx)} {_num(-ry * k)} {_num(-rx * k)} {_num(-ry)} 0 {_num(-ry)} c "
        f"{_num(rx * k)} {_num(-ry)} {_num(rx)} {_num(-ry * k)} {_num(rx)} 0 c h "
    )


def _art_draw(content: _Content, accent: str) -> None:
    """The frame, the rosette behind the text and the rules."""
    w, h = PAGE_WIDTH, PAGE_HEIGHT
    cx = w / 2
    # Rosette: rotated ellipses in a pale tint, a guilloché-like watermark.
    content.raw(f"q {_rgb(_colour(accent, tint=0.88))} RG 0.4 w\n")
    for step in range(24):
        angle = math.pi * step / 24
        cos, sin = math.cos(angle), math.sin(angle)
        content.raw(f"q {_num(cos)} {_num(sin)} {_num(-sin)} {_num(cos)} {_num(cx)} 300 cm {_ellipse(170, 62)}S Q\n")
    content.raw("Q\n")
    # Frame: a heavy outer border, a hairline inside it, diamonds at the corners.
    content.raw(f"q {_rgb(_colour(accent))} RG 2.2 w 20 20 {_num(w - 40)} {_num(h - 40)} re S\n")
    content.raw(f"0.6 w 28 28 {_num(w - 56)} {_num(h - 56)} re S\n")
    band = f"{_num(w - 40)} 8 re"
    content.raw(f"{_rgb(_colour(accent, tint=0.93))} rg 20 20 {band} 20 {_num(h - 28)} {band} f\n")
    content.raw(f"{_rgb(_colour(accent))} rg\n")
    for x, y in ((28, 28), (w - 28, 28), (28, h - 28), (w - 28, h - 28)):
        content.raw(f"q 1 0 0 1 {_num(x)} {_num(y)} cm 0 7 m 7 0 l 0 -7 l -7 0 l f Q\n")
    # Rules: under the title (with a diamond), under the names.
    content.raw(f"0.8 w {_num(cx - 150)} 412 m {_num(cx - 8)} 412 l {_num(cx + 8)} 412 m {_num(cx + 150)} 412 l S\n")
    content.raw(f"{_num(cx)} 416 m {_num(cx + 4)} 412 l {_num(cx)} 408 l {_num(cx - 4)} 412 l f\n")
    content.raw(f"{_rgb(_colour(accent, tint=0.5))} RG 0.5 w {_num(cx - 190)} 294 m {_num(cx + 190)} 294 l S Q\n")


# Layout of the stamped fields (points from the bottom left); the static labels sit around them.
_NAME_EN_Y, _NAME_ZH_Y, _NAME_ALONE_Y = 336, 302, 320
_LEFT_X = 72
_CODE_Y, _DATE_EN_Y, _DATE_ZH_Y = 132, 90, 74
_QR_SIZE, _QR_RIGHT, _QR_BOTTOM = 84, PAGE_WIDTH - 72, 96
_URL_Y = 60


def _static_draw(content: _Content, text: TemplateText, sans: _Font, serif: _Font, bold: _Font) -> None:
    cx = PAGE_WIDTH / 2
    accent = _colour(text.accent_colour)
    _art_draw(content, text.accent_colour)
    content.text((sans,), 10, cx, 538, text.issuer_en, colour=accent, max_width=640, tracking=0.6)
    content.text((sans,), 10, cx, 522, text.issuer_zh, colour=accent, max_width=640, tracking=0.6)
    content.text((bold,), 34, cx, 466, "Certificate of Completion", colour=accent)
    content.text((bold,), 28, cx, 426, "结业证书", colour=accent, tracking=6)
    content.text((sans,), 11, cx, 380, "This is to certify that · 兹证明", colour=_GREY)
    content.text((sans,), 11, cx, 272, "has successfully completed the course · 已顺利完成课程", colour=_GREY)
    # The bold and serif faces are subsets: Noto Sans CJK draws what they lack.
    content.text((serif, sans), 20, cx, 240, text.course_title_en, max_width=660)
    content.text((serif, sans), 17, cx, 214, text.course_title_zh, max_width=660)
    if text.detail:
        content.text((sans,), 11, cx, 186, text.detail, colour=_GREY, max_width=660)
    # Left column: the labels of the code and the date.
    content.text((sans,), 8.5, _LEFT_X, 150, "Certificate code · 证书编号", colour=_GREY, align="left")
    content.text((sans,), 8.5, _LEFT_X, 108, "Date of issue · 颁发日期", colour=_GREY, align="left")
    # Right column: under the QR code.
    content.text((sans,), 8, _QR_RIGHT - _QR_SIZE / 2, _QR_BOTTOM - 14, "Scan to verify · 扫码验证", colour=_GREY)
    # Centre: signatories over their lines.
    signatories = text.signatories[:2]
    centres = [cx] if len(signatories) == 1 else [cx - 95, cx + 95][: len(signatories)]
    for signatory, x in zip(signatories, centres, strict=True):
        content.raw(f"q {_rgb(_GREY)} RG 0.5 w {_num(x - 80)} 122 m {_num(x + 80)} 122 l S Q\n")
        content.text((sans,), 10, x, 108, signatory.name, max_width=170)
        content.text((sans,), 8, x, 96, signatory.title_en, colour=_GREY, max_width=170)
        content.text((sans,), 8, x, 85, signatory.title_zh, colour=_GREY, max_width=170)


# Glyphs the static fonts carry for the fields, so that most certificates need no glyph of their own
# beyond the Chinese name: ASCII (codes, dates, URLs, most Latin names), Latin-1 letters (Zoë,
# Müller), and the date's 年月日.
_ASCII = "".join(map(chr, range(0x20, 0x7F)))
_SEED_SANS = _ASCII + "年月日"
_SEED_NAMES = _ASCII + "".join(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))


def _fields_draw(
    content: _Content, fields: CertificateFields, accent: str, sans: tuple[_Font, ...], names: tuple[_Font, ...]
) -> None:
    cx = PAGE_WIDTH / 2
    name_en, name_zh = fields.name_en.strip(), fields.name_zh.strip()
    if name_en and name_zh:
        content.text(names, 30, cx, _NAME_EN_Y, name_en, max_width=560)
        content.text(names, 24, cx, _NAME_ZH_Y, name_zh, max_width=560)
    else:  # one script only: one line, in the middle of the two lines' space
        content.text(names, 30, cx, _NAME_ALONE_Y, name_en or name_zh, max_width=560)
    content.text(sans, 13, _LEFT_X, _CODE_Y, fields.code, colour=_colour(accent), align="left", max_width=200)
    issued = fields.issued_on
    date_en = f"{issued.day} {_MONTHS_EN[issued.month - 1]} {issued.year}"
    date_zh = f"{issued.year}年{issued.month}月{issued.day}日"
    content.text(sans, 11, _LEFT_X, _DATE_EN_Y, date_en, align="left")
    content.text(sans, 11, _LEFT_X, _DATE_ZH_Y, date_zh, align="left")
    content.text(sans, 6.5, _QR_RIGHT, _URL_Y, fields.verify_url, colour=_GREY, align="right", max_width=300)
    _qr_draw(content, fields.verify_url)


_DARK_RUN = re.compile(b"\0+")


def _qr_draw(content: _Content, url: str) -> None:
    """The QR code as filled squares, one path: vector, sharp, about 1 KB."""
    barcode = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = barcode.to_image(scale=1, add_quiet_zones=False)
    rows, columns = image.shape
    # One byte a module, row by row; 0 dark, 255 light. (Older stubs omit Image's buffer protocol.)
    cells = memoryview(image).tobytes()  # type: ignore[arg-type, unused-ignore]
    # Rows joined by a light sentinel, so that one search finds every horizontal run of dark modules.
    stride = columns + 1
    joined = b"\xff".join([cells[row * columns : (row + 1) * columns] for row in range(rows)])
    spans = [run.span() for run in _DARK_RUN.finditer(joined)]
    runs = "".join([f"{start % stride} {start // stride} {end - start} 1 re\n" for start, end in spans])
    module = _QR_SIZE / columns
    left, top = _QR_RIGHT - _QR_SIZE, _QR_BOTTOM + _QR_SIZE
    content.raw(f"q 0 0 0 rg {module:.4f} 0 0 {-module:.4f} {_num(left)} {_num(top)} cm\n")
    content.raw(runs)
    content.raw("f Q\n")


# --- Assembling the PDF ----------------------------------------------------------------------

# Object numbers. Static: catalog, pages, page, info, content, three fonts of five objects.
_CATALOG, _PAGES, _PAGE, _INFO, _STATIC_CONTENT = 1, 2, 3, 4, 5
_STATIC_FONTS = (6, 11, 16)  # /S0 sans, /S1 serif, /S2 serif bold
_FIELDS_CONTENT = 21
_FIELDS_FONTS = (22, 27)  # /V0 sans, /V1 serif bold
_OBJECT_COUNT = 31


def _pdf_text_string(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def certificate_template_compile(text: TemplateText) -> CertificateTemplate:
    """Lay out and serialise everything a course's certificates share; reuse the result for
    every certificate of the course. 20 to 40 ms, and 1 to 2 s for the first in a process
    (loading the fonts and converting their Latin glyphs).

    Raises CertificateTextError when a text holds characters the fonts cannot draw, and
    CjkFontNotFoundError when a font's package is not installed.
    """
    _colour(text.accent_colour)  # validate early
    faces = _faces_find()
    sans = _Subset(_face(faces.sans), "/S0")
    serif = _Subset(_face(faces.serif), "/S1")
    bold = _Subset(_face(faces.serif_bold), "/S2")
    content = _Content()
    _static_draw(content, text, sans, serif, bold)
    for subset, seed in ((sans, _SEED_SANS), (bold, _SEED_NAMES)):
        for char in seed:
            subset.lookup(ord(char))

    fonts = " ".join(
        f"{name} {number} 0 R"
        for name, number in zip(("/S0", "/S1", "/S2", "/V0", "/V1"), (*_STATIC_FONTS, *_FIELDS_FONTS), strict=True)
    )
    title = f"Certificate of Completion · 结业证书 · {text.course_title_en}"
    bodies: list[bytes] = [
        f"<< /Type /Catalog /Pages {_PAGES} 0 R /Lang (en) >>".encode(),
        f"<< /Type /Pages /Kids [{_PAGE} 0 R] /Count 1 >>".encode(),
        f"<< /Type /Page /Parent {_PAGES} 0 R /MediaBox [0 0 {_num(PAGE_WIDTH)} {_num(PAGE_HEIGHT)}]"
        f" /Contents [{_STATIC_CONTENT} 0 R {_FIELDS_CONTENT} 0 R] /Resources << /Font << {fonts} >> >> >>".encode(),
        f"<< /Title {_pdf_text_string(title)} /Author {_pdf_text_string(text.issuer_en)}"
        f" /Producer (Corridor) >>".encode(),
        _stream(content.serialise(), level=9),
    ]
    for subset, first in zip((sans, serif, bold), _STATIC_FONTS, strict=True):
        bodies.extend(subset.objects(first))
    assert len(bodies) == _FIELDS_CONTENT - 1

    prefix = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(prefix))
        prefix += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    return CertificateTemplate(
        text=text,
        faces=faces,
        sans=sans.seeded(),
        names=bold.seeded(),
        prefix=bytes(prefix),
        offsets=tuple(offsets),
        digest=hashlib.sha256(prefix).digest()[:16],
    )


def certificate_pdf_render(template: CertificateTemplate, fields: CertificateFields) -> bytes:
    """The certificate PDF: `template` stamped with one trainee's fields. About 2 ms, plus about
    2 ms for each character that no certificate drew before in this process.

    Raises CertificateTextError when a field holds characters the fonts cannot draw.
    """
    # Glyphs that the template's fonts lack (the Chinese name, mostly) go in small fonts of their own.
    sans = _Subset(_face(template.faces.sans), "/V0")
    names = _Subset(_face(template.faces.serif_bold), "/V1")
    content = _Content()
    _fields_draw(content, fields, template.text.accent_colour, (template.sans, sans), (template.names, names, sans))
    bodies = [_stream(content.serialise())]
    for subset, first in zip((sans, names), _FIELDS_FONTS, strict=True):
        bodies.extend(subset.objects(first))
    return _pdf_finish(template, bodies, fields.code)


def _pdf_finish(template: CertificateTemplate, bodies: Iterable[bytes], code: str) -> bytes:
    out = bytearray(template.prefix)
    offsets = list(template.offsets)
    for number, body in enumerate(bodies, start=_FIELDS_CONTENT):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    assert len(offsets) == _OBJECT_COUNT
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (_OBJECT_COUNT + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    document_id = hashlib.sha256(template.digest + code.encode()).hexdigest()[:32]
    out += (
        f"trailer\n<< /Size {_OBJECT_COUNT + 1} /Root {_CATALOG} 0 R /Info {_INFO} 0 R"
        f" /ID [<{document_id}> <{document_id}>] >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)
