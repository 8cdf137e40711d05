from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import LiveSession, Room, SessionState
from classrooms.realtime import broadcast_on_commit
from classrooms.signals import session_ended
from lms.errors import CorridorError
from lms.timezones import SCHEDULING_TIME_ZONE


def _local(moment: datetime) -> str:
    return timezone.localtime(moment, SCHEDULING_TIME_ZONE).strftime("%Y-%m-%d %H:%M")


def session_clashes(
    *,
    starts_at: datetime,
    ends_at: datetime,
    instructor: Any,
    rooms: Iterable[Room],
    exclude_id: int | None = None,
) -> list[str]:
    """Human-readable descriptions of every booking this session would collide with."""
    overlapping = LiveSession.objects.filter(starts_at__lt=ends_at, ends_at__gt=starts_at).exclude(
        state=SessionState.ENDED
    )
    if exclude_id is not None:
        overlapping = overlapping.exclude(pk=exclude_id)
    clashes = []
    room_ids = [room.pk for room in rooms]
    for other in overlapping.filter(rooms__in=room_ids).distinct().prefetch_related("rooms"):
        for room in other.rooms.all():
            if room.pk in room_ids:
                clashes.append(
                    _("%(room)s is already booked for “%(session)s” (%(start)s–%(end)s, UTC+8).")
                    % {
                        "room": room,
                        "session": other.title,
                        "start": _local(other.starts_at),
                        "end": _local(other.ends_at),
                    }
                )
    for other in overlapping.filter(instructor=instructor):
        clashes.append(
            _("%(instructor)s is already teaching “%(session)s” (%(start)s–%(end)s, UTC+8).")
            % {
                "instructor": instructor,
                "session": other.title,
                "start": _local(other.starts_at),
                "end": _local(other.ends_at),
            }
        )
    return clashes


@transaction.atomic
def session_schedule(
    *,
    title: str,
    course: Any,
    instructor: Any,
    starts_at: datetime,
    ends_at: datetime,
    rooms: list[Room],
    module: Any = None,
    online_seats: int = 50,
) -> LiveSession:
    if ends_at <= starts_at:
        raise CorridorError("invalid_time", _("A session must end after it starts."))
    clashes = session_clashes(starts_at=starts_at, ends_at=ends_at, instructor=instructor, rooms=rooms)
    if clashes:
        raise CorridorError("schedule_clash", " ".join(clashes), status=409)
    session = LiveSession.objects.create(
        title=title,
        course=course,
        module=module,
        instructor=instructor,
        starts_at=starts_at,
        ends_at=ends_at,
        online_seats=online_seats,
    )
    session.rooms.set(rooms)
    return session


@transaction.atomic
def session_set_state(*, session: LiveSession, state: SessionState) -> LiveSession:
    allowed = {
        SessionState.SCHEDULED: {SessionState.LIVE, SessionState.ENDED},
        SessionState.LIVE: {SessionState.ENDED},
        SessionState.ENDED: set(),
    }
    current = SessionState(session.state)
    if state not in allowed[current]:
        raise CorridorError(
            "invalid_state",
            _("A %(current)s session cannot become %(state)s.") % {"current": current.label, "state": state.label},
        )
    session.state = state
    session.save(update_fields=["state"])
    broadcast_on_commit(session, "session.state", {"state": state.value})
    if state == SessionState.ENDED:
        # Streaming closes the session's recorders after commit and queues their uploads to storage.
        session_ended.send(sender=LiveSession, session=session)
    return session
