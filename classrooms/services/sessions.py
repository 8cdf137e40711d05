from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import LiveSession, Room, SessionState
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors.participants import MODERATORS, session_participant
from classrooms.services.devices import agents_follow_session_on_commit
from classrooms.services.recording import recording_changed
from classrooms.signals import session_ended
from classrooms.xapi import xapi_session_attended
from courses.models import CoursePage, CourseTeacher
from lms.accounts.roles import Role, user_roles
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


# A moderator may start a session this long before its scheduled start (to check sound and picture).
START_EARLY = timedelta(minutes=15)


def _module_belongs_to(module: Any, course: CoursePage) -> bool:
    """The module sits under this course or under one of its translations."""
    parent = CoursePage.objects.filter(path=module.path[: -CoursePage.steplen]).only("translation_key").first()
    return parent is not None and parent.translation_key == course.translation_key


def _check_schedule(
    *,
    starts_at: datetime,
    ends_at: datetime,
    instructor: Any,
    rooms: list[Room],
    exclude_id: int | None,
    course: Any = None,
    module: Any = None,
) -> None:
    if module is not None and course is not None and not _module_belongs_to(module, course):
        raise CorridorError("invalid_module", _("Choose a module of the selected course."))
    if ends_at <= starts_at:
        raise CorridorError("invalid_time", _("A session must end after it starts."))
    clashes = session_clashes(
        starts_at=starts_at, ends_at=ends_at, instructor=instructor, rooms=rooms, exclude_id=exclude_id
    )
    if clashes:
        raise CorridorError("schedule_clash", " ".join(clashes), status=409)


def _teaches(user: Any, *courses: Any) -> bool:
    """`user` is on the teaching team of each of these courses (courses.CourseTeacher)."""
    keys = {course.translation_key for course in courses}
    return CourseTeacher.objects.filter(user=user, course_key__in=keys).count() == len(keys)


def _check_instructor_choice(*, by: Any, instructor: Any, current: Any = None, courses: tuple[Any, ...] = ()) -> None:
    """An instructor schedules only themselves; administrators (and the system, `by=None`) anyone. Editing, a member
    of the teaching team of the session's course (`courses`: before and after) may edit a colleague's session,
    keeping its instructor."""
    if by is None or Role.ADMINISTRATOR in user_roles(by):
        return
    if instructor is not None and instructor.pk == by.pk and (current is None or current.pk == by.pk):
        return
    if current is not None and instructor is not None and instructor.pk == current.pk and _teaches(by, *courses):
        return
    raise CorridorError("forbidden", _("Instructors schedule and edit only their own sessions."), status=403)


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
    recorded: bool = False,
    by: Any = None,
    one_to_one_with: Any = None,
) -> LiveSession:
    """Schedule a session (the admin form and the tests both come here). `by`: who schedules it (None: the
    system); an instructor may only schedule themselves. Refused on bad times or a double-booked room or
    instructor. `one_to_one_with`: a one-to-one with that person (an internship check-in), whom alone of the
    trainees it takes."""
    _check_instructor_choice(by=by, instructor=instructor)
    _check_schedule(
        starts_at=starts_at,
        ends_at=ends_at,
        instructor=instructor,
        rooms=rooms,
        exclude_id=None,
        course=course,
        module=module,
    )
    session = LiveSession.objects.create(
        title=title,
        course=course,
        module=module,
        instructor=instructor,
        starts_at=starts_at,
        ends_at=ends_at,
        online_seats=online_seats,
        recorded=recorded,
        one_to_one_with=one_to_one_with,
    )
    session.rooms.set(rooms)
    return session


@transaction.atomic
def session_update(
    *,
    session: LiveSession,
    title: str,
    course: Any,
    instructor: Any,
    starts_at: datetime,
    ends_at: datetime,
    rooms: list[Room],
    module: Any = None,
    online_seats: int = 50,
    recorded: bool = False,
    by: Any = None,
) -> LiveSession:
    """Edit a scheduled session with the same checks as `session_schedule` (the session itself is not a clash).
    An instructor edits only their own sessions and those of the courses they teach, and cannot hand one to someone
    else."""
    locked = LiveSession.objects.select_for_update().select_related("instructor", "course").get(pk=session.pk)
    if locked.one_to_one_with_id is not None and by is not None and Role.ADMINISTRATOR not in user_roles(by):
        _check_instructor_choice(by=by, instructor=instructor, current=locked.instructor)  # its own instructor only
    else:
        _check_instructor_choice(
            by=by, instructor=instructor, current=locked.instructor, courses=(locked.course, course)
        )
    _check_schedule(
        starts_at=starts_at,
        ends_at=ends_at,
        instructor=instructor,
        rooms=rooms,
        exclude_id=locked.pk,
        course=course,
        module=module,
    )
    if locked.starts_at != starts_at:
        locked.reminder_sent_at = None  # moved: remind people again before the new start
    locked.title, locked.course, locked.module, locked.instructor = title, course, module, instructor
    recording_switched = locked.recorded != recorded and locked.state != SessionState.ENDED
    locked.starts_at, locked.ends_at, locked.online_seats = starts_at, ends_at, online_seats
    if locked.state != SessionState.ENDED:  # an ended session's recording is history
        locked.recorded = recorded
    locked.save()
    locked.rooms.set(rooms)
    if recording_switched:
        # As if switched on the live page: open pages and the publishers already publishing hear of it.
        recording_changed(session=locked)
    return locked


def _require_moderator(*, session: LiveSession, by: Any) -> None:
    if by is None:  # the system: the auto-end sweep, the demo
        return
    if session_participant(session=session, user=by) not in MODERATORS:
        raise CorridorError("forbidden", _("Only the instructor or a moderator can do that."), status=403)


def _locked(session: LiveSession) -> LiveSession:
    """The session as it is now, its row locked until commit: a caller's object may be stale (a socket opened
    before the session ended holds one), and only the row's state counts."""
    return LiveSession.objects.select_for_update().get(pk=session.pk)


def _refresh(session: LiveSession, locked: LiveSession) -> None:
    session.state, session.live_since, session.live_until = locked.state, locked.live_since, locked.live_until


@transaction.atomic
def session_start(*, session: LiveSession, by: Any, now: datetime | None = None) -> LiveSession:
    """Make a scheduled session live (from START_EARLY before its start until its scheduled end).

    Only a moderator (the session's instructor, an administrator) may; `by=None` is the system. Every open page
    hears `session.state` after commit, and the rooms' agents start publishing (unless an operator stopped them).
    """
    now = now or timezone.now()
    _require_moderator(session=session, by=by)
    locked = _locked(session)
    if locked.state == SessionState.LIVE:
        raise CorridorError("already_live", _("This session is already live."), status=409)
    if locked.state == SessionState.ENDED:
        raise CorridorError("session_ended", _("This session has ended and cannot be started again."), status=409)
    if now < locked.starts_at - START_EARLY:
        raise CorridorError(
            "too_early",
            _("You can start this session from %(time)s (15 minutes before it is scheduled to begin, UTC+8).")
            % {"time": _local(locked.starts_at - START_EARLY)},
            status=409,
        )
    if now >= locked.ends_at:
        raise CorridorError("too_late", _("This session's scheduled time is over: schedule a new one."), status=409)
    locked.state, locked.live_since = SessionState.LIVE, now
    locked.save(update_fields=["state", "live_since"])
    _refresh(session, locked)
    broadcast_on_commit(locked, "session.state", {"state": SessionState.LIVE.value})
    agents_follow_session_on_commit(session=locked)
    return locked


@transaction.atomic
def session_end(*, session: LiveSession, by: Any, now: datetime | None = None) -> LiveSession:
    """End a live (or never started) session for good. Only a moderator may; `by=None` is the system.

    Every open page hears `session.state` after commit; streaming closes the session's recordings
    (`session_ended`) and the rooms' agents stop publishing.
    """
    now = now or timezone.now()
    _require_moderator(session=session, by=by)
    locked = _locked(session)
    if locked.state == SessionState.ENDED:
        raise CorridorError("session_ended", _("This session has already ended."), status=409)
    locked.state, locked.live_until = SessionState.ENDED, now
    locked.save(update_fields=["state", "live_until"])
    _refresh(session, locked)
    broadcast_on_commit(locked, "session.state", {"state": SessionState.ENDED.value})
    # Streaming closes the session's recorders after commit and queues their uploads to storage.
    session_ended.send(sender=LiveSession, session=locked)
    agents_follow_session_on_commit(session=locked)
    # Each trainee who was there: "attended", with their time present and where from (queued in this transaction).
    xapi_session_attended(session=locked, now=now)
    return locked


def session_set_state(*, session: LiveSession, state: SessionState, by: Any = None) -> LiveSession:
    """Start or end `session` (the socket's `session.state`): `session_start` or `session_end`, under the same
    lock and checks."""
    if state == SessionState.LIVE:
        return session_start(session=session, by=by)
    if state == SessionState.ENDED:
        return session_end(session=session, by=by)
    raise CorridorError("invalid_state", _("A session cannot go back to scheduled."))
