"""Reads for attendance: who is here, who may see it, and the minutes each trainee was present."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.events import AttendancePayload, AttendeePayload, DepartedPayload
from classrooms.models import (
    AttendanceRecord,
    AttendanceSource,
    AttendanceStay,
    LiveSession,
    RecordingConsent,
    Room,
    SessionState,
)
from classrooms.selectors.participants import MODERATORS, Participant, session_participant
from courses.models import CoursePage, Enrolment
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles

# Stays come from three sources (remote sockets, room check-in, the operator's roster) and are
# merged only when read: minutes are the union of every stay, so overlapping sources (a trainee
# checked in and also on a laptop) are never counted twice.

# A remote stay with no heartbeat for longer than this is over (a dead socket or a crashed process).
REMOTE_PRESENCE_TIMEOUT = timedelta(seconds=30)
# A gap of up to this between two stays in the same place (a reconnect) is one stay, not two.
STAY_MERGE_GAP = timedelta(minutes=2)
REMOTE_PLACE = "remote"


def display_name(user: Any) -> str:
    return str(user.get_full_name() or user.email)


def room_operated_by(*, room: Room, user: Any) -> bool:
    """Whether `user` is an operator (by role) of this very room."""
    return Role.OPERATOR in user_roles(user) and room.operators.filter(pk=user.pk).exists()


def can_view_attendance(*, session: LiveSession, user: Any) -> bool:
    """The instructor, administrators and the operators of the session's rooms."""
    return session_participant(session=session, user=user) in MODERATORS | {Participant.OPERATOR}


def can_show_checkin_display(*, session: LiveSession, room: Room, user: Any) -> bool:
    """The room display (the check-in code): the instructor, administrators and that room's operators."""
    return session_participant(session=session, user=user) in MODERATORS or room_operated_by(room=room, user=user)


def can_keep_roster(*, room: Room, user: Any) -> bool:
    """The roster of a room: its operators and administrators."""
    return Role.ADMINISTRATOR in user_roles(user) or room_operated_by(room=room, user=user)


class StayTimes(Protocol):
    """What deciding whether a stay is open reads: a stay, or a row of one (`_PresenceRow`)."""

    @property
    def source(self) -> str: ...

    @property
    def started_at(self) -> datetime: ...

    @property
    def last_seen_at(self) -> datetime: ...

    @property
    def ended_at(self) -> datetime | None: ...


StayT = TypeVar("StayT", bound=StayTimes)


def stay_effective_end(stay: StayTimes, *, now: datetime) -> datetime:
    """When a stay ends, or `now` while it is still going.

    An open remote stay whose heartbeats stopped more than REMOTE_PRESENCE_TIMEOUT ago
    ended at its last heartbeat, even before the sweep (stale_presence_close) has closed it.
    """
    if stay.ended_at is not None:
        return stay.ended_at
    if stay.source == AttendanceSource.REMOTE and now - stay.last_seen_at > REMOTE_PRESENCE_TIMEOUT:
        return stay.last_seen_at
    return max(now, stay.started_at)


def stay_is_open(stay: StayTimes, *, now: datetime) -> bool:
    return stay.started_at <= now and stay.ended_at is None and stay_effective_end(stay, now=now) >= now


def _place_key(stay: AttendanceStay) -> str:
    return REMOTE_PLACE if stay.source == AttendanceSource.REMOTE else f"room-{stay.room_id or 0}"


def _place_label(stay: AttendanceStay) -> str:
    if stay.source == AttendanceSource.REMOTE:
        return str(_("Remote"))
    return str(stay.room) if stay.room is not None else str(_("A room no longer on record"))


def _session_stays(session: LiveSession) -> list[AttendanceStay]:
    return list(
        AttendanceStay.objects.filter(record__session=session)
        .select_related("record__user", "room")
        .order_by("started_at", "pk")
    )


def _enrolments(session: LiveSession) -> QuerySet[Enrolment]:
    """Enrolments in the session's course, in any language (one query, no join through the page)."""
    course_key = CoursePage.objects.filter(pk=session.course_id).values("translation_key")
    return Enrolment.objects.filter(course_key__in=course_key)


def session_trainees(*, session: LiveSession) -> QuerySet[User]:
    """Everyone enrolled in the session's course, by name; a one-to-one's one other person."""
    if session.one_to_one_with_id is not None:
        return User.objects.filter(pk=session.one_to_one_with_id)
    return User.objects.filter(pk__in=_enrolments(session).values("user_id")).order_by(
        "first_name", "last_name", "email"
    )


def _expected_count(session: LiveSession) -> int:
    """How many trainees the session expects: its course's enrolled, or a one-to-one's one."""
    return 1 if session.one_to_one_with_id is not None else _enrolments(session).count()


def room_stay_open(*, session: LiveSession, room: Room, user: Any) -> AttendanceStay | None:
    """The user's open in-room stay (check-in or roster) in `room`, if they are marked there now."""
    return (
        AttendanceStay.objects.filter(
            record__session=session, record__user_id=user.pk, room=room, ended_at__isnull=True
        )
        .exclude(source=AttendanceSource.REMOTE)
        .first()
    )


def _by_user(stays: Iterable[AttendanceStay]) -> dict[int, list[AttendanceStay]]:
    grouped: dict[int, list[AttendanceStay]] = defaultdict(list)
    for stay in stays:
        grouped[stay.record.user_id].append(stay)
    return grouped


def _current_stay(stays: Iterable[StayT], *, now: datetime) -> StayT | None:
    """Where a trainee is now: a room beats remote (a laptop open in class), the latest stay beats older ones."""
    open_stays = [stay for stay in stays if stay_is_open(stay, now=now)]
    in_room = [stay for stay in open_stays if stay.source != AttendanceSource.REMOTE]
    candidates = in_room or open_stays
    return max(candidates, key=lambda stay: stay.started_at) if candidates else None


@dataclass(frozen=True, slots=True)
class _PresenceRow:
    """A stay as `presence_now` reads it: values, not a model with its user and room (a class of 2,000 is read every
    two seconds while it fills)."""

    user_id: int
    name: str
    source: str
    room_id: int | None
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None


def _presence_rows(session: LiveSession) -> dict[int, list[_PresenceRow]]:
    """The session's stays by user, in the order they started."""
    rows = (
        AttendanceStay.objects.filter(record__session=session)
        .order_by("started_at", "pk")
        .values_list(
            "record__user_id",
            "record__user__first_name",
            "record__user__last_name",
            "record__user__email",
            "source",
            "room_id",
            "started_at",
            "last_seen_at",
            "ended_at",
        )
    )
    grouped: dict[int, list[_PresenceRow]] = defaultdict(list)
    for user_id, first, last, email, source, room_id, started_at, last_seen_at, ended_at in rows:
        # The name as display_name gives it (User.get_full_name: first and last, stripped; else the email).
        name = f"{first} {last}".strip() or email
        grouped[user_id].append(_PresenceRow(user_id, name, source, room_id, started_at, last_seen_at, ended_at))
    return grouped


def presence_now(*, session: LiveSession, now: datetime | None = None) -> AttendancePayload:
    """Who is here: counts per room and remote, names and where from, and who has left.

    Three queries, whatever the size of the class (four when someone is in a room no longer the session's).
    """
    now = now or timezone.now()
    by_user = _presence_rows(session)
    rooms = {room.pk: room for room in session.rooms.all()}
    counts: dict[int, int] = dict.fromkeys(rooms, 0)
    here: list[AttendeePayload] = []
    left: list[DepartedPayload] = []
    remote = 0
    current_of: dict[int, _PresenceRow] = {}
    for user_id, user_stays in by_user.items():
        current = _current_stay(user_stays, now=now)
        if current is None:
            left_at = max(stay_effective_end(stay, now=now) for stay in user_stays)
            left.append({"user_id": user_id, "name": user_stays[0].name, "left_at": left_at.isoformat()})
        else:
            current_of[user_id] = current
    # Someone marked in a room that is no longer the session's: that room is listed too.
    elsewhere = {c.room_id for c in current_of.values() if c.source != AttendanceSource.REMOTE and c.room_id}
    if elsewhere - set(rooms):
        rooms |= {room.pk: room for room in Room.objects.filter(pk__in=[r for r in elsewhere if r not in rooms])}
    for user_id, current in current_of.items():
        room = rooms.get(current.room_id) if current.source != AttendanceSource.REMOTE and current.room_id else None
        if current.source == AttendanceSource.REMOTE:
            remote += 1
        elif room is not None:
            counts[room.pk] = counts.get(room.pk, 0) + 1
        here.append(
            {
                "user_id": user_id,
                "name": current.name,
                "where": "remote" if current.source == AttendanceSource.REMOTE else "room",
                "room_id": current.room_id if current.source != AttendanceSource.REMOTE else None,
                "room": room.name if room is not None else "",
                "since": current.started_at.isoformat(),
            }
        )
    here.sort(key=lambda entry: entry["name"].casefold())
    left.sort(key=lambda entry: entry["left_at"], reverse=True)
    return {
        "at": now.isoformat(),
        "present": len(here),
        "remote": remote,
        "rooms": [
            {"room_id": room.pk, "name": room.name, "city": str(room.get_city_display()), "count": counts[room.pk]}
            for room in rooms.values()
        ],
        "enrolled": _expected_count(session),
        "here": here,
        "left": left,
    }


def _union_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> int:
    """Seconds covered by the union of intervals: overlaps count once."""
    total = 0.0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for start, end in sorted(intervals):
        if current_end is None or current_start is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None and current_start is not None:
        total += (current_end - current_start).total_seconds()
    return round(total)


def _whole_minutes(seconds: int) -> int:
    return (seconds + 30) // 60


@dataclass(frozen=True)
class PlaceMinutes:
    key: str
    label: str
    minutes: int


@dataclass(frozen=True)
class AttendanceRow:
    user_id: int
    name: str
    email: str
    enrolled: bool
    seconds: int
    minutes: int
    percent: float
    places: tuple[PlaceMinutes, ...]
    first_seen: datetime | None
    last_seen: datetime | None
    # The answer to the recording consent ("agreed", "declined", "" not asked) and when it was given.
    recording_consent: str = ""
    recording_consent_at: datetime | None = None
    # The stays were deleted by the retention task: `seconds` is the summary kept on the attendance record.
    detail_pruned: bool = False

    @property
    def recording_consent_label(self) -> str:
        return str(RecordingConsent(self.recording_consent).label) if self.recording_consent else _("Not asked")

    @property
    def where_from(self) -> str:
        return ", ".join(place.label for place in self.places)


@dataclass(frozen=True)
class AttendanceReport:
    session: LiveSession
    scheduled_minutes: int
    counted_until: datetime
    rows: tuple[AttendanceRow, ...]

    @property
    def attended(self) -> int:
        return sum(1 for row in self.rows if row.seconds > 0)


def attendance_report(*, session: LiveSession, now: datetime | None = None) -> AttendanceReport:
    """Per trainee (every enrolled one, absent ones with 0): minutes present, % of the scheduled time, where from.

    Minutes are the union of all stays from every source, clipped to the session's
    scheduled start..end (and to now while it runs). Three queries, whatever the class size.
    """
    now = now or timezone.now()
    start, end = session.starts_at, min(session.ends_at, max(now, session.starts_at))
    scheduled_seconds = (session.ends_at - session.starts_at).total_seconds()
    trainees = list(session_trainees(session=session))
    enrolled_ids = {user.pk for user in trainees}
    stays_by_user = _by_user(_session_stays(session))
    records = {
        record.user_id: record for record in AttendanceRecord.objects.filter(session=session).select_related("user")
    }
    others = [record.user for user_id, record in records.items() if user_id not in enrolled_ids]
    rows = []
    for user in [*trainees, *sorted(others, key=lambda u: display_name(u).casefold())]:
        clipped: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
        labels: dict[str, str] = {}
        seen: list[tuple[datetime, datetime]] = []
        for stay in stays_by_user.get(user.pk, []):
            stay_end = stay_effective_end(stay, now=now)
            seen.append((stay.started_at, stay_end))
            interval = (max(stay.started_at, start), min(stay_end, end))
            if interval[0] < interval[1]:
                clipped[_place_key(stay)].append(interval)
                labels[_place_key(stay)] = _place_label(stay)
        seconds = _union_seconds(interval for intervals in clipped.values() for interval in intervals)
        record = records.get(user.pk)
        pruned = record is not None and record.detail_pruned_at is not None
        if record is not None and pruned:
            seconds = record.attended_seconds or 0
        places = sorted(
            (PlaceMinutes(key, labels[key], _whole_minutes(_union_seconds(clipped[key]))) for key in clipped),
            key=lambda place: (-place.minutes, place.label),
        )
        rows.append(
            AttendanceRow(
                user_id=user.pk,
                name=display_name(user),
                email=user.email,
                enrolled=user.pk in enrolled_ids,
                seconds=seconds,
                minutes=_whole_minutes(seconds),
                percent=min(100.0, round(100 * seconds / scheduled_seconds, 1)),
                places=tuple(places),
                first_seen=min(s for s, _e in seen) if seen else None,
                last_seen=max(e for _s, e in seen) if seen else None,
                recording_consent=record.recording_consent if record is not None else "",
                recording_consent_at=record.recording_consent_at if record is not None else None,
                detail_pruned=pruned,
            )
        )
    return AttendanceReport(
        session=session,
        scheduled_minutes=_whole_minutes(round(scheduled_seconds)),
        counted_until=end,
        rows=tuple(rows),
    )


@dataclass(frozen=True)
class TimelineSeries:
    key: str
    label: str
    counts: tuple[int, ...]


@dataclass(frozen=True)
class AttendanceTimeline:
    times: tuple[datetime, ...]
    series: tuple[TimelineSeries, ...]
    totals: tuple[int, ...]
    enrolled: int


def attendance_timeline(
    *, session: LiveSession, step_minutes: int = 1, now: datetime | None = None
) -> AttendanceTimeline:
    """How many trainees were present at each step of the session, per place (each room, and remote).

    Sampled from the scheduled start to the end (or now, while it runs). A trainee counts
    once at each instant: in their room if they were in one, else remote.
    """
    now = now or timezone.now()
    step = timedelta(minutes=max(1, step_minutes))
    last = min(session.ends_at, now)
    steps = int((last - session.starts_at) / step) + 1 if last >= session.starts_at else 0
    times = tuple(session.starts_at + k * step for k in range(steps))
    rooms = list(session.rooms.all())
    keys = [f"room-{room.pk}" for room in rooms] + [REMOTE_PLACE]
    labels = {f"room-{room.pk}": str(room) for room in rooms} | {REMOTE_PLACE: str(_("Remote"))}
    counts: dict[str, list[int]] = {key: [0] * steps for key in keys}
    step_seconds = step.total_seconds()
    for user_stays in _by_user(_session_stays(session)).values():
        # Each sample index → (is in a room, started at, place); a room beats remote, then the latest stay.
        where: dict[int, tuple[bool, datetime, str]] = {}
        for stay in user_stays:
            offset_start = (stay.started_at - session.starts_at).total_seconds() / step_seconds
            offset_end = (stay_effective_end(stay, now=now) - session.starts_at).total_seconds() / step_seconds
            key = _place_key(stay)
            if key not in counts:
                keys.append(key)
                labels[key] = _place_label(stay)
                counts[key] = [0] * steps
            claim = (stay.source != AttendanceSource.REMOTE, stay.started_at, key)
            for k in range(max(0, math.ceil(offset_start)), min(steps - 1, math.floor(offset_end)) + 1):
                if k not in where or claim[:2] > where[k][:2]:
                    where[k] = claim
        for k, (_in_room, _since, key) in where.items():
            counts[key][k] += 1
    series = tuple(TimelineSeries(key, labels[key], tuple(counts[key])) for key in keys)
    totals = tuple(sum(s.counts[k] for s in series) for k in range(steps))
    return AttendanceTimeline(times=times, series=series, totals=totals, enrolled=_expected_count(session))


@dataclass(frozen=True)
class CourseLiveMinutes:
    """Live time of a course's sessions that have finished, and each trainee's share of it."""

    sessions: int
    scheduled_seconds: int
    attended_seconds: dict[int, int]

    def percent(self, user_id: int) -> float:
        if not self.scheduled_seconds:
            return 100.0  # no live sessions held: nothing to attend
        return min(100.0, round(100 * self.attended_seconds.get(user_id, 0) / self.scheduled_seconds, 1))


def course_live_minutes(*, course_key: UUID, user_ids: Iterable[int], now: datetime | None = None) -> CourseLiveMinutes:
    """Scheduled seconds of the course's finished sessions (any language) and the seconds each user attended.

    As in the attendance report, a user's stays are merged (overlaps count once) and clipped to each
    session's scheduled time. Two queries, whatever the number of trainees.
    """
    now = now or timezone.now()
    user_ids = list(user_ids)
    sessions = list(
        LiveSession.objects.filter(course__translation_key=course_key)
        .filter(Q(state=SessionState.ENDED) | Q(ends_at__lte=now))
        .only("pk", "starts_at", "ends_at")
    )
    windows = {session.pk: (session.starts_at, session.ends_at) for session in sessions}
    stays = AttendanceStay.objects.filter(record__session__in=sessions, record__user_id__in=user_ids).values_list(
        "record__user_id", "record__session_id", "started_at", "ended_at", "last_seen_at", "source"
    )
    intervals: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for user_id, session_id, started_at, ended_at, last_seen_at, source in stays:
        stay = AttendanceStay(started_at=started_at, ended_at=ended_at, last_seen_at=last_seen_at, source=source)
        start, end = windows[session_id]
        clipped = (max(started_at, start), min(stay_effective_end(stay, now=now), end))
        if clipped[0] < clipped[1]:
            intervals[user_id].append(clipped)
    attended = {user_id: _union_seconds(spans) for user_id, spans in intervals.items()}
    # Sessions whose stays the retention task deleted count by the summary it kept (the same clipped union).
    summaries = AttendanceRecord.objects.filter(
        session__in=sessions, user_id__in=user_ids, detail_pruned_at__isnull=False
    ).values_list("user_id", "attended_seconds")
    for user_id, seconds in summaries:
        attended[user_id] = attended.get(user_id, 0) + (seconds or 0)
    return CourseLiveMinutes(
        sessions=len(sessions),
        scheduled_seconds=round(sum((end - start).total_seconds() for start, end in windows.values())),
        attended_seconds=attended,
    )


@dataclass(frozen=True)
class StayRow:
    """One stay of one person, as the per-stay CSV lists it: when they came, when they left, and where."""

    name: str
    email: str
    source: str  # AttendanceSource: remote, room (check-in), roster
    place: str  # "Remote", or the room's name
    city: str  # the room's city, "" when remote
    joined: datetime
    left: datetime | None  # None while the stay goes on
    minutes: int


def attendance_stays(*, session: LiveSession, now: datetime | None = None) -> list[StayRow]:
    """Every stay in the session, by person then time: the detail behind `attendance_report`'s totals.

    Unlike the report, a stay is not clipped to the scheduled time: its minutes are its own, from join to leave
    (to now while it goes on). Overlapping stays (a room and a laptop) are each listed. One query.
    """
    now = now or timezone.now()
    rows = []
    for stay in _session_stays(session):
        end = stay_effective_end(stay, now=now)
        remote = stay.source == AttendanceSource.REMOTE
        rows.append(
            StayRow(
                name=display_name(stay.record.user),
                email=stay.record.user.email,
                source=str(stay.source),
                place=_place_label(stay),
                city="" if remote or stay.room is None else str(stay.room.get_city_display()),
                joined=stay.started_at,
                left=None if stay_is_open(stay, now=now) else end,
                minutes=_whole_minutes(round(max(0.0, (end - stay.started_at).total_seconds()))),
            )
        )
    return sorted(rows, key=lambda row: (row.name.casefold(), row.email, row.joined))


def recording_consent_of(*, session: LiveSession, user_id: int) -> str:
    """The trainee's answer to the recording consent in `session`: "agreed", "declined", or "" (not asked yet)."""
    consent = (
        AttendanceRecord.objects.filter(session=session, user_id=user_id)
        .values_list("recording_consent", flat=True)
        .first()
    )
    return consent or ""


def recording_consent_given(*, session_id: int, user_id: int) -> bool:
    """May this trainee be published in the session now? Yes unless it is recorded and they have not agreed.

    The session is read again: recording may have been switched on since the socket opened."""
    recorded = LiveSession.objects.filter(pk=session_id).values_list("recorded", flat=True).first()
    if not recorded:
        return True
    return AttendanceRecord.objects.filter(
        session_id=session_id, user_id=user_id, recording_consent=RecordingConsent.AGREED
    ).exists()
