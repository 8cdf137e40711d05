"""Reads for session reminders: which sessions are due, and to whom they go."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from classrooms.models import LiveSession, SessionState
from courses.models import Enrolment
from lms.accounts.models import User


def sessions_due_for_reminder(*, now: datetime, within: timedelta) -> QuerySet[LiveSession]:
    """Scheduled sessions starting in the next `within` whose reminder has not gone out."""
    return LiveSession.objects.filter(
        state=SessionState.SCHEDULED,
        reminder_sent_at__isnull=True,
        starts_at__gt=now,
        starts_at__lte=now + within,
    ).order_by("starts_at", "pk")


def session_reminder_recipients(*, session: LiveSession) -> list[User]:
    """The session's instructor and every trainee enrolled in its course (in either language); for a one-to-one, its
    instructor and its one other person."""
    if session.one_to_one_with_id is not None:
        attending = Q(pk=session.one_to_one_with_id)
    else:
        attending = Q(pk__in=Enrolment.objects.filter(course_key=session.course.translation_key).values("user_id"))
    return list(
        User.objects.filter(attending | Q(pk=session.instructor_id), is_active=True).exclude(email="").order_by("pk")
    )
