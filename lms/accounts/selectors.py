"""Reads on accounts."""

import re

from axes.models import AccessAttempt
from django.db.models import QuerySet

from lms.accounts.models import DataExport, User

# What `new_calendar_token` makes: URL-safe base64.
CALENDAR_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def user_by_calendar_token(*, token: str) -> User | None:
    """The active user whose calendar feed secret is `token`, if any."""
    if not token or len(token) > 100 or not CALENDAR_TOKEN.fullmatch(token):
        return None  # not one we made (and PostgreSQL refuses a NUL in a query)
    return User.objects.filter(calendar_token=token, is_active=True).first()


def sign_in_lockouts() -> QuerySet[AccessAttempt]:
    """Failed sign-ins django-axes is counting, newest first: each row an account tried from an address."""
    return AccessAttempt.objects.filter(failures_since_start__gt=0).order_by("-attempt_time")


def data_exports_of(*, user: User) -> QuerySet[DataExport]:
    """A person's data exports, newest first (expired ones stay listed, without their archive)."""
    return DataExport.objects.filter(user=user).order_by("-created_at", "-pk")
