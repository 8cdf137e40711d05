"""The certificate PDF: both scripts on the page, searchable, fonts embedded, a QR code that scans.

Reads the PDFs with pypdfium2 and pypdf and decodes QR codes with zxing-cpp: wheels, no system
package. The fonts come from PyPI and certificates/fonts/.
"""

import pickle
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from certificates import pdf
from certificates.pdf import (
    CertificateFields,
    CertificateTemplate,
    CertificateTextError,
    CjkFontNotFoundError,
    Signatory,
    TemplateText,
    certificate_pdf_render,
    certificate_template_compile,
    cjk_font_path,
)
from tests.support.pdf import pdf_fonts, pdf_info, pdf_page_image, pdf_text

COURSE_EN = "Smart Classroom Facilitation for Hybrid Teams"
COURSE_ZH = "混合团队智慧课堂引导"
URL = "https://corridor.example.org/certificates/verify/CRD-7K4M-9QXT"


@pytest.fixture(scope="module")
def template() -> CertificateTemplate:
    return certificate_template_compile(
        TemplateText(
            course_title_en=COURSE_EN,
            course_title_zh=COURSE_ZH,
            signatories=(Signatory(name="Dr Lim Hui Min 林慧敏", title_en="Programme Director", title_zh="项目主任"),),
        )
    )


def fields(**changes: object) -> CertificateFields:
    values: dict[str, object] = {
        "name_en": "Tan Wei Ming",
        "name_zh": "陈伟明",
        "code": "CRD-7K4M-9QXT",
        "issued_on": date(2025, 3, 12),
        "verify_url": URL,
    }
    values.update(changes)
    return CertificateFields(**values)  # type: ignore[arg-type]


def ink(image: Image.Image) -> int:
    """How many pixels are clearly not paper."""
    return sum(image.point(lambda value: 255 if value < 128 else 0).histogram()[255:])


def test_both_scripts_are_searchable_text(template: CertificateTemplate) -> None:
    text = pdf_text(certificate_pdf_render(template, fields()))

    for expected in (
        "Certificate of Completion",
        "结业证书",
        "Tan Wei Ming",
        "陈伟明",
        COURSE_EN,
        COURSE_ZH,
        "CRD-7K4M-9QXT",
        "12 March 2025",
        "2025年3月12日",
        "Corridor Training Consortium · Singapore · Chongqing",
        "Dr Lim Hui Min 林慧敏",
        URL,
    ):
        assert expected in text


def test_one_a4_landscape_page_small_with_embedded_subset_fonts(template: CertificateTemplate) -> None:
    document = certificate_pdf_render(template, fields())

    info = pdf_info(document)
    assert info.pages == 1
    assert (round(info.width, 2), round(info.height, 2)) == (841.89, 595.28)  # A4 landscape
    assert len(document) < 200_000
    fonts = pdf_fonts(document)
    assert len(fonts) == 5
    for font in fonts:
        assert (font.type, font.encoding) == ("CID TrueType", "Identity-H")
        assert (font.embedded, font.subset, font.unicode) == (True, True, True), font


def test_page_renders_without_fonts_installed_and_its_qr_code_opens_the_verify_url(
    template: CertificateTemplate,
) -> None:
    document = certificate_pdf_render(template, fields())
    # A renderer allowed no font of the machine: everything drawn comes from the PDF itself.
    image = pdf_page_image(document, dpi=150, system_fonts=False)

    assert image.size == (1754, 1241)
    assert ink(image) > 20_000
    assert [barcode.text for barcode in zxingcpp.read_barcodes(image)] == [URL]
    # The Chinese name, where it is drawn, has ink: its glyphs came from the embedded font.
    name_zh = image.crop((650, 540, 1100, 660))
    assert ink(name_zh) > 1_000


def test_chinese_names_outside_the_template_text_are_drawn(template: CertificateTemplate) -> None:
    """Glyphs no template text uses are embedded per certificate, and each name looks different."""
    crops = []
    for name_zh in ("陈伟明", "龚睿璇", "欧阳靓"):
        document = certificate_pdf_render(template, fields(name_zh=name_zh))
        assert name_zh in pdf_text(document)
        crops.append(pdf_page_image(document).crop((650, 540, 1100, 660)).tobytes())

    assert len(set(crops)) == 3


def test_names_outside_the_basic_multilingual_plane_map_back_to_text(template: CertificateTemplate) -> None:
    name_zh = "𠮷田"  # U+20BB7: a surrogate pair in the ToUnicode map
    document = certificate_pdf_render(template, fields(name_zh=name_zh, name_en="Zoë Müller-Nguyễn"))

    text = pdf_text(document)
    assert name_zh in text
    assert "Zoë Müller-Nguyễn" in text


def test_certificates_share_the_template_and_differ_only_in_their_fields(template: CertificateTemplate) -> None:
    first = certificate_pdf_render(template, fields())
    second = certificate_pdf_render(
        template,
        fields(
            name_en="Li Xiaoyu",
            name_zh="李晓雨",
            code="CRD-22AB-7HQW",
            issued_on=date(2026, 1, 5),
            verify_url="https://corridor.example.org/certificates/verify/CRD-22AB-7HQW",
        ),
    )

    assert first.startswith(template.prefix)
    assert second.startswith(template.prefix)
    first_lines, second_lines = pdf_text(first).splitlines(), pdf_text(second).splitlines()
    changed = {(a, b) for a, b in zip(first_lines, second_lines, strict=True) if a != b}
    assert changed == {
        ("Tan Wei Ming", "Li Xiaoyu"),
        ("陈伟明", "李晓雨"),
        ("CRD-7K4M-9QXT", "CRD-22AB-7HQW"),
        ("12 March 2025", "5 January 2026"),
        ("2025年3月12日", "2026年1月5日"),
        (URL, "https://corridor.example.org/certificates/verify/CRD-22AB-7HQW"),
    }
    # Deterministic: rendering again gives the same bytes (and so the same checksum).
    assert certificate_pdf_render(template, fields()) == first


def test_rendering_uses_the_compiled_template_without_loading_fonts_again(
    template: CertificateTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    def font_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a render loaded a font file")

    monkeypatch.setattr(pdf, "TTCollection", font_load)
    monkeypatch.setattr(pdf, "TTFont", font_load)
    monkeypatch.setattr(pdf, "cjk_font_path", font_load)  # no font file looked up either

    document = certificate_pdf_render(template, fields(name_zh="邝梓潼"))  # glyphs not converted before

    assert "邝梓潼" in pdf_text(document)


def test_a_template_survives_pickling(template: CertificateTemplate) -> None:
    restored = pickle.loads(pickle.dumps(template))

    assert certificate_pdf_render(restored, fields()) == certificate_pdf_render(template, fields())


def test_a_name_in_one_script_only_is_printed_once(template: CertificateTemplate) -> None:
    english_only = pdf_text(certificate_pdf_render(template, fields(name_zh="")))
    chinese_only = pdf_text(certificate_pdf_render(template, fields(name_en="")))

    assert "Tan Wei Ming" in english_only
    assert "陈伟明" not in english_only
    assert "陈伟明" in chinese_only
    assert "Tan Wei Ming" not in chinese_only


def test_characters_the_fonts_cannot_draw_are_refused_with_the_reason(template: CertificateTemplate) -> None:
    with pytest.raises(CertificateTextError, match=r"U\+1F600"):
        certificate_pdf_render(template, fields(name_en="Tan 😀"))
    with pytest.raises(ValueError, match="#RRGGBB"):
        certificate_template_compile(TemplateText(COURSE_EN, COURSE_ZH, accent_colour="navy"))


def test_long_course_titles_are_shrunk_to_fit_the_page() -> None:
    title_en = "Advanced Practice in Facilitating Hybrid Smart Classrooms Across Singapore and Chongqing Campuses"
    compiled = certificate_template_compile(TemplateText(title_en, COURSE_ZH * 4, accent_colour="#7A1F2B"))

    text = pdf_text(certificate_pdf_render(compiled, fields()))

    assert title_en in " ".join(text.split())


def test_the_fonts_come_with_the_python_packages_and_an_unknown_one_is_refused() -> None:
    assert cjk_font_path().name == "NotoSansCJK-Regular.ttc"  # PyPI's noto-cjk-sans-otc
    assert cjk_font_path("Noto Serif SC").name == "NotoSerifSC-Regular.otf"  # PyPI's pylopdf-fonts-zh-cn
    bold = cjk_font_path("Noto Serif CJK SC", bold=True)
    assert bold.parent == Path(pdf.__file__).parent / "fonts"
    assert (bold.parent / "OFL.txt").is_file()  # shipped with its licence
    with pytest.raises(CjkFontNotFoundError, match="Noto Nowhere CJK SC"):
        cjk_font_path("Noto Nowhere CJK SC")


def test_the_shipped_bold_face_covers_every_gb2312_character() -> None:
    from fontTools.ttLib import TTFont

    covered = TTFont(cjk_font_path("Noto Serif CJK SC", bold=True), lazy=True).getBestCmap()
    gb2312 = {bytes([high, low]).decode("gb2312", "ignore") for high in range(0xA1, 0xF8) for low in range(0xA1, 0xFF)}
    missing = sorted(char for char in gb2312 - {""} if ord(char) not in covered)
    assert missing == []


def test_a_name_character_the_bold_face_lacks_is_drawn_in_the_sans_face(template: CertificateTemplate) -> None:
    name_zh = "张喆堃"  # 喆 and 堃, common in names, are not in GB 2312 (the shipped bold subset)
    document = certificate_pdf_render(template, fields(name_zh=name_zh))

    assert name_zh in pdf_text(document)
    name = pdf_page_image(document, system_fonts=False).crop((650, 540, 1100, 660))
    assert ink(name) > 1_000
