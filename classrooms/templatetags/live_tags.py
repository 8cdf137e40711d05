"""Template tags for pages outside classrooms that point at a live session (the course page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from classrooms.selectors import sessions as session_selectors
from lms.timezones import CityTime, city_time

register = template.Library()


@dataclass(frozen=True)
class JoinableSession:
    session: LiveSession
    url: str
    home: CityTime

    @property
    def is_live(self) -> bool:
        return self.session.state == SessionState.LIVE


@register.simple_tag(takes_context=True)
def joinable_live_session(context: template.Context, course: Any) -> JoinableSession | None:
    """The course's live (or next) session the reader may join, with its page and local times: one query."""
    user = context.get("user")
    if course is None or user is None or not user.is_authenticated:
        return None
    session = session_selectors.joinable_session_for_course(
        user=user, course_key=course.translation_key, now=timezone.now()
    )
    if session is None:
        return None
    return JoinableSession(
        session=session,
        url=reverse("classrooms:live-session", kwargs={"session_id": session.pk}),
        home=city_time(user.home_region, session.starts_at, session.ends_at),
    )
