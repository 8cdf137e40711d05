"""Certificates' learning event as an xAPI statement (lms.xapi, docs/xapi.md): "earned", queued in the transaction
that marks a certificate issued."""

from __future__ import annotations

from certificates import documents
from certificates.models import Certificate
from lms.xapi import builders
from lms.xapi.services import xapi_enabled, xapi_statement_queue


def xapi_certificate_earned(*, certificate: Certificate) -> None:
    if not xapi_enabled():
        return
    course = builders.course_activity(
        course_key=certificate.course_key, title_en=certificate.course_title_en, title_zh=certificate.course_title_zh
    )
    xapi_statement_queue(
        statement=builders.certificate_earned(
            code=certificate.code,
            user_id=certificate.user_id,
            course=course,
            at=certificate.issued_at,
            verify_url=documents.verify_url(certificate.code),
        )
    )
