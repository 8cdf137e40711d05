"""Certificates: a versioned rule per course, the certificates issued under it, and bulk issuing runs.

A certificate is unique per trainee, course and rule version (a database constraint, so a
retried or duplicated task can never make a second one). Its PDF and signed credential are
stored in the trainee's home region's storage (lms/regions.py; S3 in production) under names derived from its
code; `storage_region` says which, so a later change of home region does not lose them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lms.accounts.models import Region
from lms.regions import region_label


class CertificateRule(models.Model):
    """What a trainee must achieve in a course. Never edited: a change is a new version."""

    course_key = models.UUIDField(db_index=True, help_text="translation_key of the course")
    version = models.PositiveIntegerField()
    min_attendance_percent = models.PositiveSmallIntegerField(
        _("minimum share of live minutes attended (%)"), default=80
    )
    require_all_modules = models.BooleanField(_("all modules completed"), default=True)
    # None: the course has no final assessment requirement.
    final_pass_mark = models.PositiveSmallIntegerField(_("final assessment pass mark (%)"), null=True, blank=True)
    # A completed internship (internships.selectors.placement_completion): the final evaluation passed and every
    # logged week approved. The certificate then names the internship and its company.
    require_internship = models.BooleanField(_("a completed internship"), default=False)
    # An exam passed (exams.marking.exam_passers): a released result of one of its sittings at or above its pass mark.
    require_exam = models.ForeignKey(
        "exams.Exam",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="certificate_rules",
        verbose_name=_("an exam passed"),
    )
    # The certificate's own words, shown on the PDF beside the course title (both languages).
    signatory_en = models.CharField(_("signatory (English)"), max_length=120, blank=True)
    signatory_zh = models.CharField(_("signatory (Chinese)"), max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("certificate rule")
        ordering = ["course_key", "-version"]
        constraints = [models.UniqueConstraint(fields=["course_key", "version"], name="one_rule_per_version")]

    def __str__(self) -> str:
        return f"rule v{self.version} of {self.course_key}"


class CertificateState(models.TextChoices):
    # The row exists (its code is reserved) but its files are not stored yet.
    PENDING = "pending", _("Being issued")
    ISSUED = "issued", _("Issued")
    REVOKED = "revoked", _("Revoked")


class Certificate(models.Model):
    """One trainee's certificate for one course under one rule version.

    Names and titles are copied at issue time: a certificate records what was true then.
    `id` doubles as the credential's index in the revocation status list.
    """

    code = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates")
    course_key = models.UUIDField(db_index=True)
    rule = models.ForeignKey(CertificateRule, on_delete=models.PROTECT, related_name="certificates")
    state = models.CharField(max_length=16, choices=CertificateState.choices, default=CertificateState.PENDING)
    name_en = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200, blank=True)
    course_title_en = models.CharField(max_length=255)
    course_title_zh = models.CharField(max_length=255, blank=True)
    # The completed internship the certificate rests on (rules that require one), copied at issue time.
    internship_title = models.CharField(max_length=200, blank=True)
    internship_company = models.CharField(max_length=200, blank=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when an administrator issued to a trainee the rule did not qualify: who decided is issued_by.
    override_justification = models.TextField(blank=True)
    pdf_key = models.CharField(max_length=255, blank=True)
    # The region whose storage holds the PDF and credential ("" for certificates stored before regions: the
    # default storage).
    storage_region = models.CharField(_("stored in"), max_length=16, choices=Region.choices, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    credential_key = models.CharField(max_length=255, blank=True)
    credential_sha256 = models.CharField(max_length=64, blank=True)
    credential = models.JSONField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("certificate")
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "course_key", "rule"], name="one_certificate_per_rule_version")
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def stored_in(self) -> str:
        """The region its file is stored in, for staff ("Singapore"; the default storage for older rows)."""
        return region_label(self.storage_region)


class BatchState(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")


class IssueBatch(models.Model):
    """One bulk issuing run: its items are the progress bar (done, failed, remaining)."""

    course_key = models.UUIDField(db_index=True)
    rule = models.ForeignKey(CertificateRule, on_delete=models.PROTECT, related_name="batches")
    cohort = models.ForeignKey(
        "accounts.Cohort", on_delete=models.SET_NULL, null=True, blank=True, related_name="certificate_batches"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16, choices=BatchState.choices, default=BatchState.RUNNING)

    class Meta:
        verbose_name = _("issuing run")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch {self.pk}"


class ItemState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Issued")
    FAILED = "failed", _("Failed")


class IssueBatchItem(models.Model):
    batch = models.ForeignKey(IssueBatch, on_delete=models.CASCADE, related_name="items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=ItemState.choices, default=ItemState.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    certificate = models.ForeignKey(Certificate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The last attempt's start and end: the run's throughput and time per certificate (bench/certificates.py).
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "user"], name="one_item_per_trainee")]
        indexes = [models.Index(fields=["batch", "state"])]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.user_id}: {self.state}"
