"""Session recordings: whether a session is recorded, and one file per publisher."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SessionRecordingPolicy(models.Model):
    """Whether the SFU records a live session. No row: not recorded.

    Kept here rather than as a field on classrooms.LiveSession, so recording stays
    streaming's concern; the SFU asks `selectors.session_is_recorded` when a
    publisher joins.
    """

    session = models.OneToOneField(
        "classrooms.LiveSession",
        on_delete=models.CASCADE,
        related_name="recording_policy",
        verbose_name=_("live session"),
    )
    record = models.BooleanField(_("record this session"), default=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("session recording policy")

    def __str__(self) -> str:
        return f"{self.session_id}: {'record' if self.record else 'do not record'}"


class RecordingState(models.TextChoices):
    RECORDING = "recording", _("Recording")
    UPLOADING = "uploading", _("Uploading")
    STORED = "stored", _("Stored")
    FAILED = "failed", _("Failed")


class Recording(models.Model):
    """One publisher's media in one session (a room's camera and microphone, or the instructor).

    Lifecycle: `recording` while the SFU writes `local_path`; `uploading` once the
    file is closed and the upload task is queued; `stored` when the object in
    storage is verified, after which the local file is removed; `failed` when an
    upload attempt failed (the local file is kept, and a retry may still store it).
    """

    session = models.ForeignKey(
        "classrooms.LiveSession", on_delete=models.CASCADE, related_name="recordings", verbose_name=_("live session")
    )
    publisher = models.CharField(_("publisher"), max_length=120, help_text=_("A room's name, or “instructor”."))
    state = models.CharField(
        _("state"), max_length=16, choices=RecordingState.choices, default=RecordingState.RECORDING
    )
    local_path = models.CharField(max_length=500, blank=True)
    # The object's key in the default storage (S3 in production), deterministic so a retried
    # upload overwrites the same object instead of leaving a second one.
    storage_key = models.CharField(max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    upload_attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recording")
        ordering = ["started_at", "pk"]
        indexes = [models.Index(fields=["session", "state"])]

    def __str__(self) -> str:
        return f"{self.session_id} {self.publisher} ({self.state})"
