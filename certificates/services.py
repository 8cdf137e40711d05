"""Writes for certificates: rules, issuing (one or in bulk), revoking.

Exactly once: a certificate row is unique per trainee, course and rule version, and is
reserved (state PENDING, code fixed) before any file is made. Its files are stored under
names derived from the code, so a task that dies and runs again rewrites the same two
files and finishes the same row; it can never make a second certificate.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from certificates import documents as documents
from certificates import selectors
from certificates.models import (
    BatchState,
    Certificate,
    CertificateRule,
    CertificateState,
    IssueBatch,
    IssueBatchItem,
    ItemState,
)
from certificates.verification import certificate_verification_forget
from certificates.xapi import xapi_certificate_earned
from courses.models import CoursePage
from exams.models import Exam
from lms.accounts.models import Cohort, User
from lms.accounts.personal_data import ErasedPerson
from lms.errors import CorridorError
from lms.files import checksummed_writer
from lms.regions import storage_for_region

logger = logging.getLogger(__name__)

# Crockford's base 32 without I, L, O, U: nothing to misread on paper or over the phone.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def certificate_code_new() -> str:
    """A human-readable code, e.g. CRD-7K4M-9QXT (40 random bits)."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"CRD-{chars[:4]}-{chars[4:]}"


def _require_issuer(user: User) -> None:
    if not selectors.may_issue(user):
        raise CorridorError("forbidden", _("Only administrators issue and revoke certificates."), status=403)


def certificate_rule_set(
    *,
    course: CoursePage,
    by: Any,
    min_attendance_percent: int,
    require_all_modules: bool,
    final_pass_mark: int | None,
    require_internship: bool = False,
    require_exam: Exam | None = None,
    signatory_en: str = "",
    signatory_zh: str = "",
) -> CertificateRule:
    """A new version of the course's rule. Certificates already issued keep the version they were issued under."""
    _require_issuer(by)
    if not 0 <= min_attendance_percent <= 100 or not (final_pass_mark is None or 0 <= final_pass_mark <= 100):
        raise CorridorError("invalid_rule", _("Percentages go from 0 to 100."))
    for _attempt in range(3):
        try:
            with transaction.atomic():
                latest = CertificateRule.objects.filter(course_key=course.translation_key).aggregate(Max("version"))
                return CertificateRule.objects.create(
                    course_key=course.translation_key,
                    version=(latest["version__max"] or 0) + 1,
                    min_attendance_percent=min_attendance_percent,
                    require_all_modules=require_all_modules,
                    final_pass_mark=final_pass_mark,
                    require_internship=require_internship,
                    require_exam=require_exam,
                    signatory_en=signatory_en,
                    signatory_zh=signatory_zh,
                    created_by=by if getattr(by, "pk", None) else None,
                )
        except IntegrityError:  # two administrators saved at once: take the next number
            continue
    raise CorridorError("busy", _("Someone else is changing this rule; try again."), status=409)


def _display_name_en(user: User) -> str:
    return user.get_full_name() or user.email


def certificate_reserve(
    *, user: User, rule: CertificateRule, issued_by: Any, override_justification: str = ""
) -> Certificate:
    """The trainee's certificate under `rule`: the existing one, or a new PENDING row with its code fixed."""
    existing = Certificate.objects.filter(user=user, course_key=rule.course_key, rule=rule).first()
    if existing is not None:
        return existing
    titles = selectors.course_titles(course_key=rule.course_key)
    # The internship the certificate names: the completed one (none when an administrator overrode the rule).
    internship = selectors.completed_internship(user=user) if rule.require_internship else None
    try:
        with transaction.atomic():
            return Certificate.objects.create(
                code=certificate_code_new(),
                user=user,
                course_key=rule.course_key,
                rule=rule,
                name_en=_display_name_en(user),
                name_zh=user.name_zh,
                course_title_en=titles.en,
                course_title_zh=titles.zh,
                internship_title=internship.internship.title if internship else "",
                internship_company=internship.internship.company.name if internship else "",
                issued_at=timezone.now(),
                issued_by=issued_by if getattr(issued_by, "pk", None) else None,
                override_justification=override_justification,
            )
    except IntegrityError:
        # Another worker reserved it first (or, once in 2**40, the code collided: the retry takes a new one).
        existing = Certificate.objects.filter(user=user, course_key=rule.course_key, rule=rule).first()
        if existing is not None:
            return existing
        return certificate_reserve(
            user=user, rule=rule, issued_by=issued_by, override_justification=override_justification
        )


def certificate_files_make(*, certificate: Certificate) -> Certificate:
    """Render, sign and store a reserved certificate's PDF and credential, then mark it issued.

    Safe to run again on the same certificate (a redelivered task): same names, same row.
    """
    if certificate.state != CertificateState.PENDING:
        return certificate
    prefix = f"{settings.CERTIFICATES_STORAGE_PREFIX}/{certificate.code}"
    credential = documents.certificate_credential(certificate=certificate)
    credential_bytes = documents.credential_bytes(credential)
    pdf_bytes = documents.certificate_pdf(certificate=certificate)
    pdf_key, credential_key = f"{prefix}/certificate.pdf", f"{prefix}/credential.json"
    # Under exactly these names, replacing what a dead worker may have left; on S3 one PUT each that S3
    # checks against the SHA-256 on arrival (a corrupted upload is refused).
    # In the trainee's home region (PDPA, PIPL); the row keeps which, for readers after a change of region.
    region = certificate.user.home_region
    writer = checksummed_writer(storage_for_region(region))
    pdf_sha256 = writer.write(key=pdf_key, content=pdf_bytes, content_type="application/pdf")
    credential_sha256 = writer.write(key=credential_key, content=credential_bytes, content_type="application/json")
    # One conditional UPDATE: of two runs racing here, only the first marks it issued (and emails).
    fields = {
        "pdf_key": pdf_key,
        "pdf_sha256": pdf_sha256,
        "credential_key": credential_key,
        "credential_sha256": credential_sha256,
        "credential": credential,
        "storage_region": region,
    }
    with transaction.atomic():
        marked = Certificate.objects.filter(pk=certificate.pk, state=CertificateState.PENDING).update(
            state=CertificateState.ISSUED, **fields
        )
        if marked:
            xapi_certificate_earned(certificate=certificate)
            transaction.on_commit(lambda: certificate_email_send(certificate=certificate))
            # A verifier who tried the code before it was issued was told "unknown": not any more.
            certificate_verification_forget(code=certificate.code)
            transaction.on_commit(lambda: certificate_verification_forget(code=certificate.code))
    if not marked:
        return Certificate.objects.get(pk=certificate.pk)
    for name, value in fields.items():
        setattr(certificate, name, value)
    certificate.state = CertificateState.ISSUED
    return certificate


def certificate_email_send(*, certificate: Certificate) -> bool:
    """Tell the trainee, once: the first caller to stamp `emailed_at` sends."""
    if not Certificate.objects.filter(pk=certificate.pk, emailed_at__isnull=True).update(emailed_at=timezone.now()):
        return False
    with translation.override(certificate.user.preferred_language or settings.LANGUAGE_CODE):
        link = settings.CORRIDOR_PUBLIC_URL + reverse("certificates:mine")
        title = certificate.course_title_zh if translation.get_language() == "zh-hans" else ""
        subject = _("Your certificate for %(course)s") % {"course": title or certificate.course_title_en}
        body = _(
            "Congratulations! Your certificate %(code)s is ready.\n\n"
            "Download the PDF and the signed credential from My certificates: %(link)s\n"
            "Anyone can check it at: %(verify)s\n"
        ) % {"code": certificate.code, "link": link, "verify": documents.verify_url(certificate.code)}
    try:
        send_mail(subject, body, None, [certificate.user.email])
    except OSError:  # the mail server is down: the certificate stands, the page still lists it
        logger.warning("certificate %s: email to trainee failed", certificate.code, exc_info=True)
    return True


def certificate_issue(*, user: User, course: CoursePage, by: User, override_justification: str = "") -> Certificate:
    """Issue one trainee's certificate now, under the rule in force.

    An ineligible trainee is refused with the reasons, unless the administrator gives a justification
    (recorded on the certificate).
    """
    _require_issuer(by)
    rule = selectors.rule_in_force(course_key=course.translation_key)
    if rule is None:
        raise CorridorError("no_rule", _("This course has no certificate rule yet."))
    report = selectors.course_eligibility(course=course, rule=rule, users=[user])
    row = report.rows[0]
    justification = override_justification.strip()
    if not row.qualifies and not justification:
        raise CorridorError("not_eligible", " ".join([_("Not eligible:"), *row.reasons]))
    certificate = certificate_reserve(
        user=user, rule=rule, issued_by=by, override_justification="" if row.qualifies else justification
    )
    return certificate_files_make(certificate=certificate)


def certificate_batch_start(
    *, course: CoursePage, by: Any, cohort: Cohort | None = None, user_ids: Iterable[int] | None = None
) -> IssueBatch:
    """Queue certificates for every qualifying trainee of the course (or cohort, or the ones picked) who has none.

    Each trainee is one item and one task; the batch page reads progress from the items.
    """
    _require_issuer(by)
    rule = selectors.rule_in_force(course_key=course.translation_key)
    if rule is None:
        raise CorridorError("no_rule", _("This course has no certificate rule yet."))
    people = selectors.course_trainees(course_key=course.translation_key, cohort=cohort)
    if user_ids is not None:
        people = people.filter(pk__in=list(user_ids))
    report = selectors.course_eligibility(course=course, rule=rule, users=people)
    chosen = [row.user for row in report.rows if row.qualifies and row.certificate is None]
    if not chosen:
        raise CorridorError("nobody_to_issue", _("Nobody here qualifies who does not already hold a certificate."))
    with transaction.atomic():
        batch = IssueBatch.objects.create(course_key=course.translation_key, rule=rule, cohort=cohort, created_by=by)
        items = IssueBatchItem.objects.bulk_create([IssueBatchItem(batch=batch, user=person) for person in chosen])
        if not items or items[0].pk is None:  # SQLite before 3.35 returns no ids: read them back
            items = list(batch.items.all())
        item_ids = [item.pk for item in items]
        transaction.on_commit(lambda: _enqueue(item_ids))
    return batch


def _enqueue(item_ids: list[int]) -> None:
    from certificates.tasks import issue_batch_items

    chunk = max(1, settings.CERTIFICATE_TASK_ITEMS)
    for start in range(0, len(item_ids), chunk):
        issue_batch_items.delay(item_ids[start : start + chunk])


def certificate_batch_item_run(*, item_id: int) -> None:
    """Issue one item's certificate; record success or the reason it failed. Safe to run twice."""
    item = IssueBatchItem.objects.select_related("batch__rule", "batch__created_by", "user").filter(pk=item_id).first()
    if item is None or item.state == ItemState.DONE:
        return
    IssueBatchItem.objects.filter(pk=item.pk).update(attempts=item.attempts + 1, started_at=timezone.now())
    try:
        certificate = certificate_reserve(user=item.user, rule=item.batch.rule, issued_by=item.batch.created_by)
        certificate = certificate_files_make(certificate=certificate)
    except Exception as error:  # recorded for the administrator, who can retry it from the batch page
        logger.exception("certificate batch item %s failed", item.pk)
        message = error.message if isinstance(error, CorridorError) else f"{type(error).__name__}: {error}"
        IssueBatchItem.objects.filter(pk=item.pk).exclude(state=ItemState.DONE).update(
            state=ItemState.FAILED, error=str(message)[:2000], finished_at=timezone.now()
        )
    else:
        IssueBatchItem.objects.filter(pk=item.pk).update(
            state=ItemState.DONE, error="", certificate=certificate, finished_at=timezone.now()
        )
    _batch_finish_if_done(item.batch_id)


def _batch_finish_if_done(batch_id: int) -> None:
    if not IssueBatchItem.objects.filter(batch_id=batch_id, state=ItemState.PENDING).exists():
        IssueBatch.objects.filter(pk=batch_id, state=BatchState.RUNNING).update(state=BatchState.FINISHED)


def certificate_batch_retry(*, batch: IssueBatch, by: User) -> int:
    """Put the failed items back in the queue; returns how many."""
    _require_issuer(by)
    with transaction.atomic():
        item_ids = list(batch.items.filter(state=ItemState.FAILED).values_list("pk", flat=True))
        IssueBatchItem.objects.filter(pk__in=item_ids).update(state=ItemState.PENDING, error="")
        if item_ids:
            IssueBatch.objects.filter(pk=batch.pk).update(state=BatchState.RUNNING)
            transaction.on_commit(lambda: _enqueue(item_ids))
    return len(item_ids)


def certificate_revoke(*, certificate: Certificate, by: User, reason: str) -> Certificate:
    _require_issuer(by)
    reason = reason.strip()
    if not reason:
        raise CorridorError("reason_required", _("Say why the certificate is revoked: verifiers will see it."))
    with transaction.atomic():
        locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.state == CertificateState.REVOKED:
            raise CorridorError("already_revoked", _("This certificate is already revoked."), status=409)
        if locked.state != CertificateState.ISSUED:
            raise CorridorError("not_issued", _("This certificate is still being issued."), status=409)
        locked.state = CertificateState.REVOKED
        locked.revoked_at = timezone.now()
        locked.revoked_reason = reason
        locked.revoked_by = by
        locked.save(update_fields=["state", "revoked_at", "revoked_reason", "revoked_by"])
        # Verifiers see the revocation at once, not when their cached "valid" expires: forgotten now, and again
        # after commit (a verification between the two would have cached the state before the revocation).
        certificate_verification_forget(code=locked.code)
        transaction.on_commit(lambda: certificate_verification_forget(code=locked.code))
    return locked


def certificates_erase_user(*, person: ErasedPerson) -> dict[str, int]:
    """Erasing a person leaves their certificates as issued (docs/privacy.md): a certificate is a signed statement
    they hold and show to others, which must still verify by its code; it states their name (in both scripts, as
    printed), the course and the date, and the verification page shows no more than that. What is not on the
    certificate goes: issuing runs' error messages that name them are scrubbed."""
    counts = {"certificates_kept": Certificate.objects.filter(user=person.user).count(), "issue_items": 0}
    for item in IssueBatchItem.objects.filter(user=person.user).exclude(error=""):
        item.error = person.scrub(item.error)
        item.save(update_fields=["error"])
        counts["issue_items"] += 1
    return counts
