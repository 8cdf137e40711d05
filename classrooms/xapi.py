"""Live sessions' learning events as xAPI statements (lms.xapi, docs/xapi.md): a question asked, and, when a session
ends, one "attended" per trainee who was there, with their time present and where from. Queued in the transaction of
the service that writes the event."""

from __future__ import annotations

from datetime import datetime

from classrooms.models import LiveSession, Question, Room
from classrooms.selectors.attendance import REMOTE_PLACE, attendance_report
from courses.xapi import course_activity
from lms.xapi import builders
from lms.xapi.services import xapi_enabled, xapi_statement_queue


def xapi_question_asked(*, question: Question) -> None:
    if not xapi_enabled():
        return
    session = question.session
    xapi_statement_queue(
        statement=builders.question_asked(
            question_id=question.pk,
            user_id=question.author_id,
            session_id=session.pk,
            session_title=session.title,
            course=course_activity(session.course),
            at=question.created_at,
        )
    )


def xapi_session_attended(*, session: LiveSession, now: datetime) -> int:
    """One "attended" statement per person present during the ended `session` (by the attendance report: every stay
    merged, clipped to the scheduled time). How many were queued."""
    if not xapi_enabled():
        return 0
    report = attendance_report(session=session, now=now)
    present = [row for row in report.rows if row.seconds > 0]
    if not present:
        return 0
    room_ids = {int(p.key.removeprefix("room-")) for row in present for p in row.places if p.key != REMOTE_PLACE}
    rooms = {room.pk: room for room in Room.objects.filter(pk__in=room_ids)}
    course = course_activity(session.course)
    started_at = session.live_since or session.starts_at
    ended_at = session.live_until or now
    for row in present:
        places = []
        for place in row.places:
            if place.key == REMOTE_PLACE:
                places.append(builders.Place(kind="remote", seconds=place.minutes * 60))
                continue
            room = rooms.get(int(place.key.removeprefix("room-")))
            places.append(
                builders.Place(
                    kind="room",
                    seconds=place.minutes * 60,
                    room=room.name if room is not None else "",
                    city=room.city if room is not None else "",
                )
            )
        xapi_statement_queue(
            statement=builders.session_attended(
                session_id=session.pk,
                title=session.title,
                user_id=row.user_id,
                seconds=row.seconds,
                places=tuple(places),
                course=course,
                started_at=started_at,
                ended_at=ended_at,
            )
        )
    return len(present)
