"""Template tags for the course page: the course's session recordings a reader may watch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse

from lms.timezones import CityTime, city_time
from streaming import selectors
from streaming.models import Recording

register = template.Library()


@dataclass(frozen=True)
class CourseRecording:
    recording: Recording
    url: str
    home: CityTime

    @property
    def duration(self) -> str:
        """Hours, minutes and seconds: 1:02:03, or 12:34 under an hour."""
        seconds = round(self.recording.duration_s or 0)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.simple_tag(takes_context=True)
def course_recordings(context: template.Context, course: Any) -> list[CourseRecording] | None:
    """The recordings of `course` for the reader; None when the reader may not watch them (not enrolled)."""
    user = context.get("user")
    if course is None or user is None or not user.is_authenticated:
        return None
    if not selectors.may_watch_course_recordings(user=user, course=course):
        return None
    return [
        CourseRecording(
            recording=recording,
            url=reverse("streaming:recording-watch", kwargs={"recording_id": recording.pk}),
            home=city_time(user.home_region, recording.session.starts_at, recording.session.ends_at),
        )
        for recording in selectors.course_stored_recordings(course=course)
    ]
