"""Checking certificates: the stored credential behind a code, or a credential someone hands us.

Three answers: valid, revoked (with date and reason), invalid (with the reason: the file was altered,
the signature does not check, the code is unknown).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import gettext as _

from certificates import credentials, documents, selectors
from certificates.models import Certificate, CertificateState
from lms.regions import storage_for_region


@dataclass(frozen=True)
class VerificationOutcome:
    status: str  # "valid" | "revoked" | "invalid"
    reason: str  # a stable code: "ok", "revoked", "bad_signature", "altered", "unknown_certificate", ...
    message: str
    signature_valid: bool
    certificate: Certificate | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "signature_valid": self.signature_valid,
        }
        certificate = self.certificate
        if certificate is not None:
            body["certificate"] = {
                "code": certificate.code,
                "name": certificate.name_en,
                "name_zh": certificate.name_zh,
                "course": certificate.course_title_en,
                "course_zh": certificate.course_title_zh,
                "issued_at": certificate.issued_at.isoformat(),
                "rule_version": certificate.rule.version,
                "verify_url": documents.verify_url(certificate.code),
                "public_key_url": documents.issuer_id(),
            }
            if certificate.internship_title:
                body["certificate"]["internship"] = {
                    "title": certificate.internship_title,
                    "company": certificate.internship_company,
                }
            if certificate.state == CertificateState.REVOKED and certificate.revoked_at is not None:
                body["certificate"]["revoked_at"] = certificate.revoked_at.isoformat()
                body["certificate"]["revoked_reason"] = certificate.revoked_reason
        return body


def _revoked(certificate: Certificate, *, signature_valid: bool) -> VerificationOutcome:
    return VerificationOutcome(
        status="revoked",
        reason="revoked",
        message=_("Revoked on %(date)s: %(reason)s")
        % {
            "date": certificate.revoked_at.date().isoformat() if certificate.revoked_at else "",
            "reason": certificate.revoked_reason,
        },
        signature_valid=signature_valid,
        certificate=certificate,
    )


def certificate_verify(*, certificate: Certificate) -> VerificationOutcome:
    """Check the credential stored for `certificate`: the file is the one issued, and its signature checks."""
    try:
        with storage_for_region(certificate.storage_region).open(certificate.credential_key, "rb") as stored:
            content = stored.read()
    except (OSError, ValueError):
        return VerificationOutcome(
            "invalid", "missing", _("The certificate's credential file is missing."), False, certificate
        )
    if hashlib.sha256(content).hexdigest() != certificate.credential_sha256:
        return VerificationOutcome(
            "invalid", "altered", _("The stored credential was changed after it was issued."), False, certificate
        )
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return VerificationOutcome("invalid", "malformed", _("The stored credential is not JSON."), False, certificate)
    checked = credentials.credential_verify(document, public_keys=documents.issuer_public_keys())
    if not checked.valid:
        return VerificationOutcome("invalid", checked.code, _signature_message(checked), False, certificate)
    if certificate.state == CertificateState.REVOKED:
        return _revoked(certificate, signature_valid=True)
    return VerificationOutcome("valid", "ok", _("The signature checks and the certificate stands."), True, certificate)


def credential_document_verify(*, document: dict[str, Any]) -> VerificationOutcome:
    """Check a credential someone holds: our signature over every field, then whether it was revoked."""
    checked = credentials.credential_verify(document, public_keys=documents.issuer_public_keys())
    code = documents.code_from_credential_id(document.get("id"))
    certificate = (
        Certificate.objects.select_related("rule").exclude(state=CertificateState.PENDING).filter(code=code).first()
        if code
        else None
    )
    if not checked.valid:
        return VerificationOutcome("invalid", checked.code, _signature_message(checked), False, None)
    if certificate is None:
        return VerificationOutcome(
            "invalid", "unknown_certificate", _("The signature checks, but no such certificate is on record."), True
        )
    if certificate.state == CertificateState.REVOKED:
        return _revoked(certificate, signature_valid=True)
    return VerificationOutcome("valid", "ok", _("The signature checks and the certificate stands."), True, certificate)


def _signature_message(checked: credentials.Verification) -> str:
    messages = {
        "bad_signature": _("The credential was altered after it was signed: its signature does not match."),
        "no_proof": _("The credential is not signed."),
        "unknown_key": _("The credential was not signed with Corridor's key."),
        "malformed": _("That is not a credential Corridor can read."),
    }
    return str(messages.get(checked.code, _("The signature does not check: %(reason)s") % {"reason": checked.reason}))


# Verification by code, cached ---------------------------------------------------------------------------------
# Checking a code reads the stored credential and checks its signature: the outcome (or "no such code") is kept in
# the cache for CERTIFICATE_VERIFY_CACHE_SECONDS, per language (its message is written in the reader's). Revoking
# or issuing forgets it (`certificate_verification_forget`, after commit).


def _verify_cache_key(code: str, language: str) -> str:
    return f"certificates:verify:{language}:{selectors.normalize_code(code)}"


def certificate_verify_by_code(*, code: str) -> VerificationOutcome | None:
    """The outcome of checking the certificate with `code` (None: no such certificate), from the cache when fresh."""
    key = _verify_cache_key(code, translation.get_language() or settings.LANGUAGE_CODE)
    cached = cache.get(key)
    if isinstance(cached, tuple):
        return cached[0]
    certificate = selectors.certificate_by_code(code=code)
    outcome = certificate_verify(certificate=certificate) if certificate is not None else None
    cache.set(key, (outcome,), timeout=settings.CERTIFICATE_VERIFY_CACHE_SECONDS)
    return outcome


def certificate_verification_forget(*, code: str) -> None:
    """Drop the cached outcome of `code` in every language (its certificate was issued or revoked)."""
    cache.delete_many([_verify_cache_key(code, language) for language, _name in settings.LANGUAGES])
