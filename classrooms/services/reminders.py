"""Reminder emails before each live session: sent once per session, however many beat runs or workers overlap."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from classrooms.ical import rooms_location
from classrooms.models import LiveSession, SessionState
from classrooms.selectors import reminders as reminder_selectors
from classrooms.selectors.timetable import ScheduledSession, scheduled_sessions
from lms.accounts.models import User

logger = logging.getLogger(__name__)


def reminder_window() -> timedelta:
    return timedelta(minutes=settings.CORRIDOR_REMINDER_MINUTES)


def _site_url() -> str:
    # The public address of the site, which Wagtail also uses for links in its notification emails.
    return str(settings.WAGTAILADMIN_BASE_URL).rstrip("/")


def _reminder_message(*, recipient: User, entry: ScheduledSession) -> EmailMessage:
    """One recipient's email, in their language, with times on their city's clock. Call under their language."""
    site = _site_url()
    context = {
        "recipient": recipient,
        "entry": entry,
        "session": entry.session,
        "location": rooms_location(entry.rooms),
        "join_url": site + entry.page_path,
        "timetable_url": site + reverse("classrooms:timetable"),
    }
    subject = " ".join(render_to_string("classrooms/email/session_reminder_subject.txt", context).split())
    body = render_to_string("classrooms/email/session_reminder.txt", context)
    return EmailMessage(subject=subject, body=body, to=[recipient.email])


def session_reminder_send(*, session_id: int, now: datetime) -> int:
    """Claim the session's reminder and email its trainees and instructor; returns how many emails went out.

    The claim is a conditional UPDATE (`reminder_sent_at IS NULL`), so of two overlapping runs only one
    sends (the other's UPDATE waits for the row, then matches nothing). Sending happens inside the same
    transaction: if the mail server fails, the claim rolls back and the next beat run tries again.
    """
    with transaction.atomic():
        claimed = LiveSession.objects.filter(
            pk=session_id, reminder_sent_at__isnull=True, state=SessionState.SCHEDULED
        ).update(reminder_sent_at=now)
        if not claimed:
            return 0
        session = (
            LiveSession.objects.select_related("course", "module", "instructor")
            .prefetch_related("rooms")
            .get(pk=session_id)
        )
        recipients = reminder_selectors.session_reminder_recipients(session=session)
        # Titles and clocks per (language, city): a handful of queries, however many recipients.
        entries: dict[tuple[str, str], ScheduledSession] = {}
        messages: list[EmailMessage] = []
        for recipient in recipients:
            language, city = recipient.preferred_language, recipient.home_region
            with translation.override(language):
                if (language, city) not in entries:
                    entries[language, city] = scheduled_sessions(sessions=[session], language=language, city=city)[0]
                messages.append(_reminder_message(recipient=recipient, entry=entries[language, city]))
        if messages:
            get_connection().send_messages(messages)
    return len(messages)


def session_reminders_send_due(*, now: datetime) -> int:
    """Remind every session starting within CORRIDOR_REMINDER_MINUTES; returns the number of emails sent."""
    sent = 0
    for session_id in reminder_selectors.sessions_due_for_reminder(now=now, within=reminder_window()).values_list(
        "pk", flat=True
    ):
        try:
            sent += session_reminder_send(session_id=session_id, now=now)
        except Exception:
            # One session's failure (a bad address, the mail server down) must not hold back the others;
            # its claim rolled back, so the next run retries it.
            logger.exception("Reminder for live session %s failed", session_id)
    return sent
