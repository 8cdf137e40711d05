"""Writes on accounts."""

import hashlib
import json
import logging
import secrets
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from axes.utils import reset as axes_reset
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.plugins.otp_totp.models import TOTPDevice

from lms.accounts.models import DataExport, DataExportState, MediaRegion, Region, User, new_calendar_token
from lms.accounts.personal_data import ERASED_NAME, ErasedPerson, ExportFile, personal_data_parts, user_erased
from lms.accounts.roles import user_roles
from lms.errors import CorridorError
from lms.files import checksummed_writer
from lms.regions import storage_for_region

logger = logging.getLogger(__name__)


@transaction.atomic
def user_calendar_token_reset(*, user: User) -> str:
    """Give `user` a new calendar feed secret; the URL with the old one stops working at once."""
    user.calendar_token = new_calendar_token()
    user.save(update_fields=["calendar_token"])
    return user.calendar_token


@transaction.atomic
def user_media_settings_set(*, user: User, home_region: str, media_region: str) -> None:
    """Where `user` is, and whether their live video comes through that city's media server or the nearest one."""
    if home_region not in Region.values or media_region not in MediaRegion.values:
        raise ValueError("unknown region")
    user.home_region, user.media_region = home_region, media_region
    user.save(update_fields=["home_region", "media_region"])


# Two-step sign-in (TOTP, django-otp) ----------------------------------------------------------------------------

TOTP_DEVICE_NAME = "authenticator"


def user_totp_device(*, user: User, confirmed: bool) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


@transaction.atomic
def user_totp_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for `user` (a fresh secret, replacing one not yet confirmed).

    Sign-in asks for no code until the person proves, with `user_totp_confirm`, that their app has the secret."""
    if user_totp_device(user=user, confirmed=True) is not None:
        raise CorridorError("totp_already_on", _("Two-step sign-in is already on."))
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


@transaction.atomic
def user_totp_confirm(*, user: User, code: str) -> TOTPDevice:
    """Turn two-step sign-in on: `code` must come from the authenticator `user_totp_start` made."""
    device = user_totp_device(user=user, confirmed=False)
    if device is None:
        raise CorridorError("totp_not_started", _("Start again: scan a new code first."))
    if not device.verify_token(code.strip()):
        raise CorridorError("totp_wrong_code", _("That code is not right. Enter the six digits your app shows now."))
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


@transaction.atomic
def user_totp_turn_off(*, user: User, password: str, code: str) -> None:
    """Turn two-step sign-in off: only with the account's password and a current code."""
    device = user_totp_device(user=user, confirmed=True)
    if device is None:
        raise CorridorError("totp_not_on", _("Two-step sign-in is not on."))
    if not user.check_password(password):
        raise CorridorError("wrong_password", _("That password is not right."))
    if not device.verify_token(code.strip()):
        raise CorridorError("totp_wrong_code", _("That code is not right. Enter the six digits your app shows now."))
    TOTPDevice.objects.filter(user=user).delete()


def sign_in_unlock(*, attempt_id: int) -> int:
    """Lift the lockout of one row of the locked sign-ins page: its account and its address, everywhere.

    Returns how many attempt records were removed (0: already unlocked or the cool-off passed)."""
    attempt = AccessAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None:
        return 0
    removed = axes_reset(username=attempt.username) if attempt.username else 0
    if attempt.ip_address:
        removed += axes_reset(ip=attempt.ip_address)
    return removed


# A person's data: export and erasure (docs/privacy.md) ----------------------------------------------------------

EXPORT_FORMAT = "corridor-personal-data/1"
ERASED_EMAIL_DOMAIN = "erased.invalid"

# data.json's keys, documented in the archive itself (README.txt) as well as in docs/privacy.md.
EXPORT_README = """Everything Corridor holds about one person, as of `generated_at`.

data.json
  format         "{format}"
  generated_at   when this archive was made (UTC, ISO 8601)
  account        the account: email, names, regions, language, roles, cohorts, when it joined and last signed in,
                 two-step sign-in devices (their names, not their secrets), failed or throttled sign-ins
{parts}
  files          every file in this archive beside data.json: its path, where it came from, and whether it was found
Secrets (the password's hash, the authenticator's key, the calendar feed's token) are held but never exported.

files/           the person's files: certificate PDFs and signed credentials, recordings in which they published
"""


def user_is_erased(user: User) -> bool:
    return user.email.endswith(f"@{ERASED_EMAIL_DOMAIN}")


def account_export(*, user: User) -> dict[str, Any]:
    """The account's own records (the user row, its devices and sign-in throttle records), JSON-ready."""
    attempts = AccessAttempt.objects.filter(username=user.email).order_by("attempt_time")
    logs = AccessLog.objects.filter(username=user.email).order_by("attempt_time")
    failures = AccessFailureLog.objects.filter(username=user.email).order_by("attempt_time")
    return {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "name_zh": user.name_zh,
        "home_region": user.home_region,
        "media_region": user.media_region,
        "preferred_language": user.preferred_language,
        "is_active": user.is_active,
        "date_joined": user.date_joined.isoformat(),
        "last_login": user.last_login.isoformat() if user.last_login else None,
        "roles": sorted(role.name.lower() for role in user_roles(user)),
        "cohorts": list(user.cohorts.order_by("name").values_list("name", flat=True)),
        "two_step_devices": [
            {"name": device.name, "confirmed": bool(device.confirmed)} for device in devices_for_user(user, None)
        ],
        "sign_in_attempts": [
            {
                "at": row.attempt_time.isoformat(),
                "address": row.ip_address,
                "user_agent": row.user_agent,
                "failures": row.failures_since_start,
            }
            for row in attempts
        ],
        "sign_ins": [
            {
                "at": row.attempt_time.isoformat(),
                "address": row.ip_address,
                "user_agent": row.user_agent,
                "signed_out_at": row.logout_time.isoformat() if row.logout_time else None,
            }
            for row in logs
        ],
        "failed_sign_ins": [
            {"at": row.attempt_time.isoformat(), "address": row.ip_address, "user_agent": row.user_agent}
            for row in failures
        ],
    }


@transaction.atomic
def data_export_request(*, user: User, by: User) -> DataExport:
    """Queue an archive of everything held about `user` (asked by them, or by an administrator: the view checks).

    An export already waiting or being prepared is returned instead of a second one."""
    if user_is_erased(user):
        raise CorridorError("user_erased", _("This account was erased: nothing is held to export."))
    pending = DataExport.objects.filter(user=user, state__in=[DataExportState.QUEUED, DataExportState.RUNNING]).first()
    if pending is not None:
        return pending
    export = DataExport.objects.create(user=user, requested_by=by)
    from lms.accounts.tasks import build_data_export  # the task module imports these services
    from lms.celery import delay_long

    transaction.on_commit(lambda: delay_long(build_data_export, export.pk))
    return export


def _export_progress(export: DataExport, progress: int, **fields: Any) -> None:
    DataExport.objects.filter(pk=export.pk).update(progress=progress, **fields)


def _copy_into(archive: zipfile.ZipFile, file: ExportFile) -> bool:
    try:
        with (
            storage_for_region(file.region).open(file.key, "rb") as stored,
            archive.open(f"files/{file.path}", "w") as out,
        ):
            while chunk := stored.read(1024 * 1024):
                out.write(chunk)
    except (OSError, ValueError):
        logger.warning("data export: %s not found in storage", file.key)
        return False
    return True


def data_export_build(*, export_id: int, now: datetime | None = None) -> DataExport:
    """Build the archive of `export_id` (the Celery task's work): data.json from every app's part, the person's
    files beside it, one ZIP stored under DATA_EXPORT_STORAGE_PREFIX. Progress is saved as it goes, so the page
    shows it; a failure is recorded on the row and raised again (the task may retry)."""
    export = DataExport.objects.select_related("user").get(pk=export_id)
    if export.state not in (DataExportState.QUEUED, DataExportState.RUNNING, DataExportState.FAILED):
        return export
    _export_progress(export, 5, state=DataExportState.RUNNING, error="")
    user = export.user
    parts = personal_data_parts()
    try:
        data: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "generated_at": (now or timezone.now()).isoformat(),
            "account": account_export(user=user),
        }
        for index, part in enumerate(parts, start=1):
            data[part.name] = part.export(user)
            _export_progress(export, 5 + 45 * index // max(1, len(parts)))
        files = [file for part in parts for file in part.files(user)]
        with tempfile.TemporaryDirectory(prefix="corridor-export-") as scratch:
            path = Path(scratch) / "export.zip"
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                listed = []
                for index, file in enumerate(files, start=1):
                    found = _copy_into(archive, file)
                    listed.append({"path": f"files/{file.path}", "source": file.key, "found": found})
                    _export_progress(export, 50 + 40 * index // len(files))
                data["files"] = listed
                archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False))
                described = "\n".join(f"  {part.name:<14} {part.describe}" for part in parts)
                archive.writestr("README.txt", EXPORT_README.format(format=EXPORT_FORMAT, parts=described))
            size = path.stat().st_size
            digest = hashlib.sha256()
            with path.open("rb") as archive_file:
                while chunk := archive_file.read(1024 * 1024):
                    digest.update(chunk)
            key = f"{settings.DATA_EXPORT_STORAGE_PREFIX}/user-{user.pk}/{export.pk}-{secrets.token_hex(8)}.zip"
            # The archive is the person's data: it is kept in their home region, like their certificates.
            region = user.home_region
            checksummed_writer(storage_for_region(region)).upload(
                key=key, path=path, size=size, sha256=digest.hexdigest(), content_type="application/zip"
            )
    except Exception as error:
        _export_progress(export, 0, state=DataExportState.FAILED, error=str(error)[:2000])
        raise
    finished = timezone.now()
    _export_progress(
        export,
        100,
        state=DataExportState.READY,
        storage_key=key,
        storage_region=region,
        size=size,
        sha256=digest.hexdigest(),
        finished_at=finished,
        expires_at=finished + timedelta(days=settings.DATA_EXPORT_KEEP_DAYS),
    )
    export.refresh_from_db()
    return export


def data_exports_expire(*, now: datetime | None = None) -> int:
    """Delete the archives past their `expires_at` from storage and mark them expired; returns how many."""
    now = now or timezone.now()
    expired = 0
    for export in DataExport.objects.filter(state=DataExportState.READY, expires_at__lte=now):
        _data_export_discard(export)
        DataExport.objects.filter(pk=export.pk).update(state=DataExportState.EXPIRED, storage_key="")
        expired += 1
    return expired


def _data_export_discard(export: DataExport) -> None:
    if export.storage_key:
        try:
            storage_for_region(export.storage_region).delete(export.storage_key)
        except OSError:
            logger.warning("data export %s: could not delete %s", export.pk, export.storage_key)


def _account_erase(person: ErasedPerson) -> dict[str, int]:
    user: User = person.user
    counts = {
        "sign_in_records": sum(
            model.objects.filter(username__iexact=person.email).delete()[0]
            for model in (AccessAttempt, AccessLog, AccessFailureLog)
        ),
        "two_step_devices": 0,
        "data_exports": 0,
    }
    for device in list(devices_for_user(user, None)):
        device.delete()
        counts["two_step_devices"] += 1
    for export in DataExport.objects.filter(user=user):
        # The archive is deleted once the erasure commits (a rollback keeps it, with everything else).
        transaction.on_commit(lambda export=export: _data_export_discard(export))  # type: ignore[misc]
        counts["data_exports"] += 1
    DataExport.objects.filter(user=user).delete()
    counts["wagtail_profile"] = _wagtail_profile_erase(user)
    counts["admin_log_entries"] = _wagtail_log_scrub(person)
    user.email = f"erased-{user.pk}@{ERASED_EMAIL_DOMAIN}"
    user.first_name, user.last_name, user.name_zh = ERASED_NAME, str(user.pk), ""
    user.home_region, user.media_region = Region.SINGAPORE, MediaRegion.HOME
    user.is_active = user.is_staff = user.is_superuser = False
    user.set_unusable_password()
    user.calendar_token = new_calendar_token()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    user.cohorts.clear()
    return counts


def _wagtail_log_scrub(person: ErasedPerson) -> int:
    """Wagtail's action log labels each entry with its object's name: an edit of the account carries theirs."""
    from django.db.models import Q
    from wagtail.models import ModelLogEntry, PageLogEntry

    changed = 0
    mentions = Q()
    for word in (person.email, *person.names):
        mentions |= Q(label__icontains=word)
    for model in (ModelLogEntry, PageLogEntry):
        for entry in model.objects.filter(mentions):
            entry.label, entry.data = person.scrub(entry.label), person.scrub(entry.data)
            entry.save(update_fields=["label", "data"])
            changed += 1
    return changed


def _wagtail_profile_erase(user: User) -> int:
    from wagtail.users.models import UserProfile

    profile = UserProfile.objects.filter(user=user).first()
    if profile is None:
        return 0
    if profile.avatar:
        avatar = profile.avatar.name
        transaction.on_commit(lambda: default_storage.delete(avatar))
    profile.delete()
    return 1


@transaction.atomic
def user_erase(*, user: User, by: User, reason: str) -> dict[str, dict[str, int]]:
    """Erase `user`, irreversibly: every app's part removes or anonymises what names them (docs/privacy.md), then
    the account becomes "Erased user <id>", which can never sign in again. Audited (`user_erased`).

    `reason` is required (it goes into the audit log). Returns what was changed, per part."""
    reason = reason.strip()
    if not reason:
        raise CorridorError("reason_required", _("Give the reason for erasing this account."))
    user = User.objects.select_for_update().get(pk=user.pk)
    if user_is_erased(user):
        raise CorridorError("already_erased", _("This account was already erased."))
    names = (user.get_full_name(), user.first_name, user.last_name, user.name_zh)
    person = ErasedPerson(
        user=user,
        email=user.email,
        names=tuple(name for name in names if name),
        placeholder=f"{ERASED_NAME} {user.pk}",
    )
    counts: dict[str, dict[str, int]] = {}
    for part in personal_data_parts():
        counts[part.name] = part.erase(person)
    counts["account"] = _account_erase(person)
    user_erased.send(sender=User, user=user, by=by, reason=reason, counts=counts)
    return counts
