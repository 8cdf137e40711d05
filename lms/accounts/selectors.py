"""Reads on accounts."""

from lms.accounts.models import User


def user_by_calendar_token(*, token: str) -> User | None:
    """The active user whose calendar feed secret is `token`, if any."""
    if not token:
        return None
    return User.objects.filter(calendar_token=token, is_active=True).first()
