"""Session recordings (one file per publisher, and the session's one composed file), and who published when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lms.accounts.models import Region
from lms.regions import region_label


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
    # The object's key in its region's storage (S3 in production), deterministic so a retried
    # upload overwrites the same object instead of leaving a second one.
    storage_key = models.CharField(max_length=500, blank=True)
    # Which region's storage (lms/regions.py), fixed when recording starts; "" for recordings stored before
    # regions (the default storage).
    storage_region = models.CharField(_("stored in"), max_length=16, choices=Region.choices, blank=True)
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

    @property
    def stored_in(self) -> str:
        """The region its file is stored in, for staff ("Singapore"; the default storage for older rows)."""
        return region_label(self.storage_region)


class PublicationKind(models.TextChoices):
    ROOM = "room", _("Room")
    INSTRUCTOR = "instructor", _("Instructor")
    SPEAKER = "speaker", _("Invited speaker")
    STAFF = "staff", _("Staff")


class Publication(models.Model):
    """One publisher's stretch of publishing in a live session: a room agent, the instructor, an invited trainee.

    Open while `ended_at` is empty; the media socket that publishes refreshes `last_seen_at` while it does, so a
    publication whose server process died goes stale instead of counting as publishing forever
    (`selectors.session_has_publishers`).
    """

    session = models.ForeignKey(
        "classrooms.LiveSession", on_delete=models.CASCADE, related_name="publications", verbose_name=_("live session")
    )
    peer_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=PublicationKind.choices)
    label = models.CharField(max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    room = models.ForeignKey("classrooms.Room", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [models.Index(fields=["session", "ended_at"])]
        constraints = [models.UniqueConstraint(fields=["session", "peer_id"], name="one_publication_per_peer")]

    def __str__(self) -> str:
        return f"{self.session_id} {self.label} ({self.kind})"


class CompositionState(models.TextChoices):
    WAITING = "waiting", _("Waiting for the recordings")
    COMPOSING = "composing", _("Being prepared")
    UPLOADING = "uploading", _("Uploading")
    STORED = "stored", _("Ready")
    FAILED = "failed", _("Failed")


class SessionComposition(models.Model):
    """A recorded session's one file: every publisher's recording composed into one MP4 (H.264 + AAC).

    `progress` (0-100) is the composing task's; `error` says why it failed, for staff. The per-publisher
    `Recording`s it is made from are never changed by it.
    """

    session = models.OneToOneField(
        "classrooms.LiveSession", on_delete=models.CASCADE, related_name="composition", verbose_name=_("live session")
    )
    state = models.CharField(
        _("state"), max_length=16, choices=CompositionState.choices, default=CompositionState.WAITING
    )
    progress = models.PositiveSmallIntegerField(default=0)
    local_path = models.CharField(max_length=500, blank=True)
    storage_key = models.CharField(max_length=500, blank=True)
    # Which region's storage holds the file (chosen when composing starts); "" before regions: the default storage.
    storage_region = models.CharField(_("stored in"), max_length=16, choices=Region.choices, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The composing run's last sign of life (its progress): a run silent for long belonged to a worker that died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("session composition")

    def __str__(self) -> str:
        return f"{self.session_id} composition ({self.state})"

    @property
    def stored_in(self) -> str:
        """The region its file is stored in, for staff ("Singapore"; the default storage for older rows)."""
        return region_label(self.storage_region)


class SessionRecordingsRegion(models.Model):
    """Where one session's recordings are stored, as chosen by the person scheduling it, instead of the site's
    RECORDINGS_REGION (by default the instructor's home region). Applies to recordings started after the choice."""

    session = models.OneToOneField(
        "classrooms.LiveSession",
        on_delete=models.CASCADE,
        related_name="recordings_region",
        verbose_name=_("live session"),
    )
    region = models.CharField(_("recordings stored in"), max_length=16, choices=Region.choices)
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    chosen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("recordings region")

    def __str__(self) -> str:
        return f"{self.session_id} recordings in {self.region}"
