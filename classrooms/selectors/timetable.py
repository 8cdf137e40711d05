"""Reads for the timetable and the calendar feed: sessions as one person reads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation

from classrooms.models import LiveSession, Room, SessionState
from courses.models import CoursePage, CourseTeacher, Enrolment, ModulePage
from lms.timezones import CityTime, city_label, city_time, other_city

# The timetable shows what ended in the last two weeks; the feed keeps a season of history for calendar apps.
TIMETABLE_RECENT_DAYS = 14
FEED_HISTORY_DAYS = 90
SCHEDULE_LIMIT = 500


def session_page_path(*, session_id: int, language: str) -> str:
    """The live session's page in `language` (`/<lang>/live/sessions/<id>/`)."""
    with translation.override(language):
        return reverse("classrooms:live-session", kwargs={"session_id": session_id})


def sessions_of(*, user: Any) -> QuerySet[LiveSession]:
    """Sessions of the courses `user` is enrolled in or teaches (in any language), the sessions they teach, and their
    one-to-ones (another person's one-to-one in their course is not theirs)."""
    enrolled_keys = Enrolment.objects.filter(user=user).values("course_key")
    taught_keys = CourseTeacher.objects.filter(user=user).values("course_key")
    return (
        LiveSession.objects.filter(
            Q(course__translation_key__in=enrolled_keys, one_to_one_with__isnull=True)
            | Q(course__translation_key__in=taught_keys, one_to_one_with__isnull=True)
            | Q(instructor=user)
            | Q(one_to_one_with=user)
        )
        .select_related("course", "module", "instructor")
        .prefetch_related("rooms")
    )


def _localized_titles(
    model: type[CoursePage] | type[ModulePage], keys: Iterable[UUID], language: str
) -> dict[UUID, str]:
    """Titles of the live pages with these translation keys in `language` (one query)."""
    rows = (
        model.objects.live()
        .filter(translation_key__in=set(keys), locale__language_code=language)
        .values_list("translation_key", "title")
    )
    return dict(rows)


# The same 15 minutes as services.sessions.START_EARLY: the lobby opens when the instructor may start.
LOBBY_OPENS_BEFORE = timedelta(minutes=15)


@dataclass(frozen=True)
class ScheduledSession:
    """A session as one person reads it: titles in their language, times on their city's clock."""

    session: LiveSession
    course_title: str
    module_title: str
    rooms: list[Room]
    home: CityTime
    other: CityTime
    page_path: str
    # The reader may start it (its instructor, or on its course's teaching team): the timetable offers "Open to start".
    may_start: bool = False

    @property
    def is_live(self) -> bool:
        return self.session.state == SessionState.LIVE

    @property
    def is_ended(self) -> bool:
        return self.session.state == SessionState.ENDED

    @property
    def lobby_open(self) -> bool:
        """Trainees may wait in the lobby from LOBBY_OPENS_BEFORE the start (when the instructor may Start)."""
        return (
            self.session.state == SessionState.SCHEDULED
            and timezone.now() >= self.session.starts_at - LOBBY_OPENS_BEFORE
        )


def scheduled_sessions(*, sessions: list[LiveSession], language: str, city: str) -> list[ScheduledSession]:
    """Dress `sessions` (rooms prefetched) for a reader of `language` living in `city`: two queries."""
    course_titles = _localized_titles(CoursePage, (s.course.translation_key for s in sessions), language)
    module_titles = _localized_titles(
        ModulePage, (s.module.translation_key for s in sessions if s.module is not None), language
    )
    elsewhere = other_city(city)
    return [
        ScheduledSession(
            session=s,
            course_title=course_titles.get(s.course.translation_key) or str(s.course.title),
            module_title=(module_titles.get(s.module.translation_key) or str(s.module.title)) if s.module else "",
            rooms=list(s.rooms.all()),
            home=city_time(city, s.starts_at, s.ends_at),
            other=city_time(elsewhere, s.starts_at, s.ends_at),
            page_path=session_page_path(session_id=s.pk, language=language),
        )
        for s in sessions
    ]


@dataclass(frozen=True)
class TimetableDay:
    day: date
    entries: list[ScheduledSession]


@dataclass(frozen=True)
class Timetable:
    upcoming: list[TimetableDay]
    recent: list[TimetableDay]
    city: str
    city_label: str
    other_city_label: str

    @property
    def is_empty(self) -> bool:
        return not self.upcoming and not self.recent


def _by_day(entries: list[ScheduledSession]) -> list[TimetableDay]:
    days: list[TimetableDay] = []
    for entry in entries:
        day = entry.home.starts.date()
        if days and days[-1].day == day:
            days[-1].entries.append(entry)
        else:
            days.append(TimetableDay(day=day, entries=[entry]))
    return days


def timetable_for(*, user: Any, now: datetime, language: str | None = None) -> Timetable:
    """`user`'s upcoming sessions (soonest first) and those of the last two weeks (latest first), by day.

    Days and times are on the user's home-city clock. Five queries, however many sessions.
    """
    language = language or translation.get_language() or "en"
    city = user.home_region
    sessions = list(
        sessions_of(user=user)
        .filter(ends_at__gte=now - timedelta(days=TIMETABLE_RECENT_DAYS))
        .order_by("starts_at", "pk")[:SCHEDULE_LIMIT]
    )
    taught = set(CourseTeacher.objects.filter(user=user).values_list("course_key", flat=True))
    entries = [
        replace(
            entry, may_start=entry.session.instructor_id == user.pk or entry.session.course.translation_key in taught
        )
        for entry in scheduled_sessions(sessions=sessions, language=language, city=city)
    ]
    upcoming = [e for e in entries if e.session.ends_at >= now and not e.is_ended]
    recent = [e for e in reversed(entries) if e.session.ends_at < now or e.is_ended]
    return Timetable(
        upcoming=_by_day(upcoming),
        recent=_by_day(recent),
        city=city,
        city_label=city_label(city),
        other_city_label=city_label(other_city(city)),
    )


def calendar_feed_for(*, user: Any, now: datetime) -> list[ScheduledSession]:
    """What `user`'s iCal feed lists: their sessions from the last 90 days on, in their preferred language."""
    sessions = list(
        sessions_of(user=user)
        .filter(ends_at__gte=now - timedelta(days=FEED_HISTORY_DAYS))
        .order_by("starts_at", "pk")[:SCHEDULE_LIMIT]
    )
    return scheduled_sessions(sessions=sessions, language=user.preferred_language, city=user.home_region)
