"""Template tags for the course page: each recorded session's one file (or how far it is), and, for staff, each
publisher's recording."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse

from classrooms.models import LiveSession
from classrooms.selectors.sessions import sessions_managed_by
from courses.selectors import user_is_course_staff
from lms.timezones import CityTime, city_time
from streaming import selectors
from streaming.models import CompositionState, Recording, SessionComposition

register = template.Library()

PREPARING = {CompositionState.WAITING, CompositionState.COMPOSING, CompositionState.UPLOADING}


def _duration(seconds_f: float | None) -> str:
    """Hours, minutes and seconds: 1:02:03, or 12:34 under an hour."""
    seconds = round(seconds_f or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@dataclass(frozen=True)
class CourseRecording:
    """One publisher's recording (a room, the instructor, a speaker)."""

    recording: Recording
    url: str
    home: CityTime

    @property
    def duration(self) -> str:
        return _duration(self.recording.duration_s)


@dataclass(frozen=True)
class SessionRecording:
    """A recorded session on the course page: its one composed file (`url` once stored, else how far it is) and,
    for staff (or when the session has no composition), each publisher's file."""

    session: LiveSession
    home: CityTime
    composition: SessionComposition | None
    url: str | None
    files: list[CourseRecording]
    staff: bool
    # When the retention task deletes the recording (RETENTION_RECORDINGS_DAYS), in the reader's city; None: kept.
    kept_until: CityTime | None = None
    # Its instructor or an administrator: may choose where its recordings are stored (streaming:session-storage).
    manages: bool = False

    @property
    def state(self) -> str:
        return self.composition.state if self.composition is not None else "none"

    @property
    def preparing(self) -> bool:
        return self.composition is not None and self.composition.state in PREPARING

    @property
    def failed(self) -> bool:
        return self.composition is not None and self.composition.state == CompositionState.FAILED

    @property
    def duration(self) -> str:
        return _duration(self.composition.duration_s if self.composition is not None else None)


@register.simple_tag(takes_context=True)
def course_recordings(context: template.Context, course: Any) -> list[SessionRecording] | None:
    """The recorded sessions of `course` for the reader, newest first; None when the reader may not watch them
    (not enrolled, not staff)."""
    user = context.get("user")
    if course is None or user is None or not user.is_authenticated:
        return None
    if not selectors.may_watch_course_recordings(user=user, course=course):
        return None
    staff = user_is_course_staff(user)
    files: dict[int, list[Recording]] = defaultdict(list)
    for recording in selectors.course_stored_recordings(course=course):
        files[recording.session_id].append(recording)
    items = []
    sessions = list(selectors.course_recorded_sessions(course=course))
    managed = set(
        sessions_managed_by(user=user).filter(pk__in=[session.pk for session in sessions]).values_list("pk", flat=True)
    )
    for session in sessions:
        composition = getattr(session, "composition", None)
        home = city_time(user.home_region, session.starts_at, session.ends_at)
        url = None
        if composition is not None and composition.state == CompositionState.STORED:
            url = reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk})
        # Trainees get the session's one file; the per-publisher files are for staff (and for sessions recorded
        # before there was a composition).
        shown = files[session.pk] if staff or composition is None else []
        items.append(
            SessionRecording(
                session=session,
                home=home,
                composition=composition,
                url=url,
                files=[
                    CourseRecording(
                        recording=recording,
                        url=reverse("streaming:recording-watch", kwargs={"recording_id": recording.pk}),
                        home=home,
                    )
                    for recording in shown
                ],
                staff=staff,
                kept_until=_kept_until(user, session),
                manages=session.pk in managed,
            )
        )
    return items


def _kept_until(user: Any, session: LiveSession) -> CityTime | None:
    moment = selectors.recordings_kept_until(session=session)
    return city_time(user.home_region, moment, moment) if moment is not None else None
