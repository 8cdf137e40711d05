"""Writes on accounts."""

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from lms.accounts.models import MediaRegion, Region, User, new_calendar_token
from lms.errors import CorridorError


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
