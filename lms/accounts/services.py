"""Writes on accounts."""

from django.db import transaction

from lms.accounts.models import User, new_calendar_token


@transaction.atomic
def user_calendar_token_reset(*, user: User) -> str:
    """Give `user` a new calendar feed secret; the URL with the old one stops working at once."""
    user.calendar_token = new_calendar_token()
    user.save(update_fields=["calendar_token"])
    return user.calendar_token
