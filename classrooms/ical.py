"""A person's sessions as an iCalendar (RFC 5545) feed, built with the `icalendar` library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from classrooms.models import Room
from classrooms.selectors.timetable import ScheduledSession
from lms.timezones import CityTime

PRODID = "-//Corridor//Live sessions//EN"
# Calendar apps poll a subscribed feed; ask for hourly (RFC 7986) so a rescheduled class shows up the same day.
REFRESH_INTERVAL = timedelta(hours=1)


def session_uid(session_id: int) -> str:
    """Stable per session, so a calendar app updates the event when the session moves."""
    return f"live-session-{session_id}@corridor"


def rooms_location(rooms: list[Room]) -> str:
    """Rooms with their city, or "Online" for a session held in no room."""
    return "; ".join(str(room) for room in rooms) or _("Online")


def _clock(time: CityTime) -> str:
    return _("%(start)s–%(end)s %(city)s time") % {
        "start": time.starts.strftime("%Y-%m-%d %H:%M"),
        "end": time.ends.strftime("%H:%M"),
        "city": time.label,
    }


def _description(entry: ScheduledSession, url: str) -> str:
    session = entry.session
    lines = [session.title, _("Course: %(course)s") % {"course": entry.course_title}]
    if entry.module_title:
        lines.append(_("Module: %(module)s") % {"module": entry.module_title})
    lines += [
        _("Instructor: %(name)s") % {"name": session.instructor},
        _("Time: %(home)s (%(other)s)") % {"home": _clock(entry.home), "other": _clock(entry.other)},
        _("Where: %(location)s") % {"location": rooms_location(entry.rooms)},
        _("Join: %(url)s") % {"url": url},
    ]
    return "\n".join(lines)


def calendar_ics(*, entries: list[ScheduledSession], language: str, base_url: str, now: datetime) -> bytes:
    """The feed's body: one VEVENT per session, times in UTC, text in `language`.

    `base_url` is the site's scheme and host (no trailing slash), for the link to each session's page.
    """
    with translation.override(language):
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", _("Corridor timetable"))
        calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", "PT1H")  # the same, for Outlook
        stamp = now.astimezone(UTC)
        for entry in entries:
            session = entry.session
            url = base_url + entry.page_path
            event = Event()
            event.add("uid", session_uid(session.pk))
            event.add("dtstamp", stamp)
            event.add("dtstart", session.starts_at.astimezone(UTC))
            event.add("dtend", session.ends_at.astimezone(UTC))
            event.add("summary", entry.course_title)
            event.add("location", rooms_location(entry.rooms))
            event.add("url", url)
            event.add("description", _description(entry, url))
            event.add("status", "CONFIRMED")
            calendar.add_component(event)
        body: bytes = calendar.to_ical()
        return body
