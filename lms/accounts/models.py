import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.TextChoices):
    SINGAPORE = "singapore", _("Singapore")
    CHONGQING = "chongqing", _("Chongqing")


class MediaRegion(models.TextChoices):
    """Which city's media server a person's live video comes through (with one SFU node per city)."""

    HOME = "home", _("My home region")
    AUTOMATIC = "automatic", _("Automatic: the nearest, measured by my browser")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


def new_calendar_token() -> str:
    """A secret for a personal calendar feed URL: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class User(AbstractUser):
    """A person who signs in with their email address."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    # The name in Chinese characters, where the person has one: certificates print both scripts.
    name_zh = models.CharField(_("name in Chinese"), max_length=120, blank=True)
    home_region = models.CharField(_("home region"), max_length=16, choices=Region.choices, default=Region.SINGAPORE)
    media_region = models.CharField(
        _("media server"), max_length=16, choices=MediaRegion.choices, default=MediaRegion.HOME
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=16, choices=settings.LANGUAGES, default="en"
    )
    # The secret in the user's iCal feed URL; resetting it makes the old URL stop working.
    calendar_token = models.CharField(
        _("calendar feed token"), max_length=64, unique=True, default=new_calendar_token, editable=False
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class Cohort(models.Model):
    """A named group of trainees; a course may be restricted to one."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    members = models.ManyToManyField(User, related_name="cohorts", blank=True, verbose_name=_("members"))

    class Meta:
        verbose_name = _("cohort")
        verbose_name_plural = _("cohorts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DataExportState(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    RUNNING = "running", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class DataExport(models.Model):
    """One archive of everything held about a person (data.json and their files), built by a Celery task.

    `progress` (0-100) is the task's; once `ready` the archive is in storage under `storage_key` until
    `expires_at`, when the sweep deletes it (DATA_EXPORT_KEEP_DAYS) and marks the row expired.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    requested_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=DataExportState.choices, default=DataExportState.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    storage_key = models.CharField(max_length=255, blank=True)
    # The region whose storage holds the archive (lms/regions.py): the person's home region when it was built.
    storage_region = models.CharField(max_length=16, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("data export")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.user_id} ({self.state})"
