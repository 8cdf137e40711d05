"""A certificate's two files, and the issuer's published documents.

Joins the Django side (settings, storage, the Certificate row) to the Django-free makers:
`pdf` (the printable page) and `credentials` (the signed W3C credential, the status list).
The issuer key and each course's compiled PDF template are built once per process.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from certificates import credentials, pdf, status_list
from certificates.models import Certificate, CertificateRule
from lms.files import SignedFileLinks, StoredFile

FILE_KINDS = ("pdf", "credential")
FILE_LINKS = SignedFileLinks(
    salt="corridor.certificates.file", view="certificates:signed-file", max_age_setting="CERTIFICATE_URL_MAX_AGE"
)
STATUS_LIST_LENGTH = status_list.STATUS_LIST_MIN_BITS


# The issuer --------------------------------------------------------------------------------------------------


def _signing_secret() -> str:
    if settings.CERTIFICATE_SIGNING_KEY:
        return str(settings.CERTIFICATE_SIGNING_KEY)
    path = settings.CERTIFICATE_SIGNING_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    raise ImproperlyConfigured(
        "No certificate signing key: set CERTIFICATE_SIGNING_KEY (see README, 'Certificates') "
        f"or create {path} with `manage.py certificate_key`."
    )


@functools.cache
def issuer_key() -> Any:
    return credentials.signing_key_from_secret(_signing_secret())


def issuer_id() -> str:
    return settings.CORRIDOR_PUBLIC_URL + reverse("verify:issuer-key")


def verification_method() -> str:
    return issuer_id() + "#key-1"


def issuer_key_document() -> dict[str, Any]:
    """The public key at a stable URL, so anyone can check a certificate offline."""
    return credentials.public_key_document(
        key_id=verification_method(), controller=issuer_id(), public_key=credentials.public_key_multibase(issuer_key())
    )


def issuer_public_keys() -> dict[str, str]:
    return {verification_method(): credentials.public_key_multibase(issuer_key())}


def credential_url(code: str) -> str:
    """The credential's `id`: where its verification result lives (so a credential names its code)."""
    return settings.CORRIDOR_PUBLIC_URL + reverse("verify:json", kwargs={"code": code})


def code_from_credential_id(credential_id: Any) -> str | None:
    prefix, suffix = credential_url("CODE").split("CODE")
    if isinstance(credential_id, str) and credential_id.startswith(prefix) and credential_id.endswith(suffix):
        return credential_id[len(prefix) : len(credential_id) - len(suffix)] or None
    return None


def verify_url(code: str) -> str:
    return settings.CORRIDOR_PUBLIC_URL + reverse("verify:page", kwargs={"code": code})


# The credential ------------------------------------------------------------------------------------------------


def status_entry(certificate: Certificate) -> status_list.StatusListEntry:
    number, index = divmod(certificate.pk, STATUS_LIST_LENGTH)
    list_url = settings.CORRIDOR_PUBLIC_URL + reverse("verify:status-list", kwargs={"number": number})
    return status_list.StatusListEntry(status_list_credential=list_url, index=index)


def certificate_credential(*, certificate: Certificate) -> dict[str, Any]:
    rule = certificate.rule
    unsigned = credentials.credential_build(
        credential_id=credential_url(certificate.code),
        issuer=credentials.Issuer(
            id=issuer_id(),
            name=f"{settings.CERTIFICATE_ISSUER_NAME} / {settings.CERTIFICATE_ISSUER_NAME_ZH}",
            url=settings.CORRIDOR_PUBLIC_URL,
        ),
        recipient=credentials.Recipient(name_en=certificate.name_en, name_zh=certificate.name_zh),
        achievement=credentials.Achievement(
            id=f"{settings.CORRIDOR_PUBLIC_URL}/certificates/achievements/{certificate.course_key}/v{rule.version}",
            title_en=certificate.course_title_en,
            title_zh=certificate.course_title_zh,
            criteria_en=rule_criteria_text(rule, certificate=certificate),
        ),
        valid_from=certificate.issued_at,
        certificate_code=certificate.code,
        status=status_entry(certificate),
    )
    return credentials.credential_sign(
        unsigned, key=issuer_key(), verification_method=verification_method(), created=timezone.now()
    )


def credential_bytes(credential: dict[str, Any]) -> bytes:
    return json.dumps(credential, ensure_ascii=False, indent=2).encode()


def internship_line(certificate: Certificate) -> str:
    """The internship a certificate names, in both languages as printed ("" when it names none)."""
    if not certificate.internship_title:
        return ""
    title, company = certificate.internship_title, certificate.internship_company
    return f"Internship: {title}, {company} · 实习：{company}，{title}"


def rule_criteria_text(rule: CertificateRule, *, certificate: Certificate | None = None) -> str:
    parts = []
    if rule.min_attendance_percent:
        parts.append(f"attended at least {rule.min_attendance_percent}% of live minutes")
    if rule.require_all_modules:
        parts.append("completed every module")
    if rule.final_pass_mark is not None:
        parts.append(f"passed the final assessment with at least {rule.final_pass_mark}%")
    if rule.require_internship:
        if certificate is not None and certificate.internship_title:
            parts.append(
                f"completed the internship {certificate.internship_title} at {certificate.internship_company}"
                " (final evaluation passed, every logged week approved)"
            )
        else:
            parts.append("completed an internship (final evaluation passed, every logged week approved)")
    if rule.require_exam is not None:
        parts.append(f"passed the exam {rule.require_exam.code} {rule.require_exam.title}")
    return "The holder " + (", ".join(parts) or "completed the course") + "."


def status_list_credential(*, number: int) -> dict[str, Any]:
    from certificates.selectors import revoked_indexes

    list_url = settings.CORRIDOR_PUBLIC_URL + reverse("verify:status-list", kwargs={"number": number})
    unsigned = status_list.status_list_credential_build(
        list_id=list_url,
        issuer_id=issuer_id(),
        revoked=revoked_indexes(list_number=number, list_length=STATUS_LIST_LENGTH),
        valid_from=timezone.now(),
        length=STATUS_LIST_LENGTH,
    )
    return credentials.credential_sign(
        unsigned, key=issuer_key(), verification_method=verification_method(), created=timezone.now()
    )


# The PDF -------------------------------------------------------------------------------------------------------

_templates: dict[tuple[int, str, str, str], pdf.CertificateTemplate] = {}
_templates_lock = threading.Lock()


def _template(certificate: Certificate) -> pdf.CertificateTemplate:
    """The course's compiled template (static art and bilingual labels), built once per process and rule."""
    detail = internship_line(certificate)
    key = (certificate.rule_id, certificate.course_title_en, certificate.course_title_zh, detail)
    template = _templates.get(key)
    if template is None:
        with _templates_lock:
            template = _templates.get(key)
            if template is None:
                rule = certificate.rule
                template = pdf.certificate_template_compile(
                    pdf.TemplateText(
                        course_title_en=certificate.course_title_en,
                        course_title_zh=certificate.course_title_zh or certificate.course_title_en,
                        issuer_en=settings.CERTIFICATE_ISSUER_NAME,
                        issuer_zh=settings.CERTIFICATE_ISSUER_NAME_ZH,
                        signatories=_signatories(rule),
                        detail=detail,
                    )
                )
                if len(_templates) > 256:
                    _templates.clear()
                _templates[key] = template
    return template


def _signatories(rule: CertificateRule) -> tuple[pdf.Signatory, ...]:
    name = " ".join(part for part in (rule.signatory_en, rule.signatory_zh) if part)
    if not name:
        return ()
    return (pdf.Signatory(name=name, title_en="For the consortium", title_zh="联盟代表"),)


def certificate_pdf(*, certificate: Certificate) -> bytes:
    return pdf.certificate_pdf_render(
        _template(certificate),
        pdf.CertificateFields(
            name_en=certificate.name_en,
            name_zh=certificate.name_zh,
            code=certificate.code,
            issued_on=timezone.localdate(certificate.issued_at),
            verify_url=verify_url(certificate.code),
        ),
    )


# Files for their holder ----------------------------------------------------------------------------------------


def certificate_file(*, certificate: Certificate, kind: str) -> StoredFile:
    """One of the certificate's files: its storage key, content type and download name."""
    if kind == "pdf":
        return StoredFile(
            certificate.pdf_key,
            "application/pdf",
            f"{certificate.code}.pdf",
            attachment=True,
            region=certificate.storage_region,
        )
    return StoredFile(
        certificate.credential_key,
        "application/json",
        f"{certificate.code}.credential.json",
        attachment=True,
        region=certificate.storage_region,
    )


def file_signed_url(*, certificate: Certificate, kind: str, user: Any) -> str:
    """A short-lived URL: S3 presigned on S3, else a signed local link that works only for `user`."""
    return FILE_LINKS.url(
        file=certificate_file(certificate=certificate, kind=kind),
        user=user,
        claims={"certificate": certificate.pk, "kind": kind},
    )


def file_from_token(*, token: str, user: Any) -> tuple[Certificate, str] | None:
    claims = FILE_LINKS.claims(token=token, user=user)
    if claims is None or claims.get("kind") not in FILE_KINDS:
        return None
    certificate = Certificate.objects.filter(pk=claims["certificate"]).first()
    return (certificate, claims["kind"]) if certificate is not None else None


def warm_up() -> None:
    """Load the fonts and compile a template now (in a Celery parent before it forks, say), not on the
    first certificate: the fonts' converted glyphs are then shared by every worker process."""
    pdf.certificate_template_compile(pdf.TemplateText(course_title_en="Corridor", course_title_zh="课程"))
