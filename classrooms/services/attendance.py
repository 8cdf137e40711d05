"""Attendance: one record per trainee per session, its stays merged from every source.

Sources: remote presence (the session socket: connect, disconnect, batched heartbeats, and a
sweep that notices a dead socket within 30 seconds), in-room check-in (a rotating signed code
on the room display) and the operator's roster. A gap of up to two minutes in the same place
(a reconnect) reopens the stay instead of starting another.

Every change to who is here is recorded and broadcast to moderators after commit as
"attendance.updated" (the payload is selectors.attendance.presence_now); heartbeats are not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from classrooms.models import (
    AttendanceCheckin,
    AttendanceRecord,
    AttendanceSource,
    AttendanceStay,
    LiveSession,
    Room,
    SessionState,
)
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors.attendance import (
    REMOTE_PRESENCE_TIMEOUT,
    STAY_MERGE_GAP,
    can_keep_roster,
    display_name,
    presence_now,
)
from classrooms.selectors.participants import Participant, session_participant
from lms.accounts.models import User
from lms.errors import CorridorError

# The room display shows a new code every CHECKIN_WINDOW_SECONDS. A code is accepted during its
# own window and the next one, so a scan just before the code changes still works: a code is
# valid for at least 30 and at most 60 seconds after it first appears, and never again.
CHECKIN_WINDOW_SECONDS = 30
_CHECKIN_SALT = "corridor.classrooms.attendance.checkin"
_CHECKIN_CODE = re.compile(r"^(\d{1,18})\.(\d{1,12})\.([0-9a-f]{24})$")


def _moment(at: datetime | None) -> datetime:
    return at if at is not None else timezone.now()


def _broadcast(session: LiveSession, at: datetime) -> None:
    broadcast_on_commit(session, "attendance.updated", presence_now(session=session, now=at), moderators_only=True)


def _lock_record(session: LiveSession, user: User) -> AttendanceRecord:
    """The trainee's record, created if need be, locked until the transaction ends."""
    record, _created = AttendanceRecord.objects.select_for_update().get_or_create(session=session, user=user)
    return record


# Remote presence ----------------------------------------------------------------------------


@transaction.atomic
def remote_presence_start(
    *, session: LiveSession, user: Any, at: datetime | None = None, announce: bool = True
) -> bool:
    """A trainee's socket opened (the caller checks that the user is a trainee of the session).

    Opens a remote stay, or reopens the last one if it ended less than STAY_MERGE_GAP ago (a
    reconnect is one stay, not two), and counts the socket: a second tab joins the open stay.
    Returns whether who-is-here changed; with `announce=False` the caller broadcasts that
    itself (the socket hub coalesces a burst of joins with `presence_announce`).
    """
    at = _moment(at)
    [changed] = remote_presence_start_many(session_id=session.pk, user_ids=[user.pk], at=at)
    if changed and announce:
        _broadcast(session, at)
    return changed


@transaction.atomic
def remote_presence_start_many(*, session_id: int, user_ids: Sequence[int], at: datetime | None = None) -> list[bool]:
    """`remote_presence_start` for a burst of sockets (one id per socket; a user's two tabs are two), in five
    queries whatever their number: 2,000 trainees join in the minute a class starts, and the socket hub writes
    their presence in batches (classrooms.batching). Not announced: the hub coalesces that.

    Returns, per socket in order, whether who-is-here changed (for a user with two sockets in the batch, the first).
    """
    at = _moment(at)
    sockets = Counter(user_ids)
    if not sockets:
        return []
    AttendanceRecord.objects.bulk_create(
        [AttendanceRecord(session_id=session_id, user_id=user_id) for user_id in sockets], ignore_conflicts=True
    )
    # Locked in one order (by id) so that two processes' batches wait for each other rather than deadlock.
    records = {
        record.pk: record
        for record in AttendanceRecord.objects.select_for_update()
        .filter(session_id=session_id, user_id__in=list(sockets))
        .order_by("pk")
    }
    candidates: dict[int, list[AttendanceStay]] = {record.user_id: [] for record in records.values()}
    for stay in AttendanceStay.objects.filter(record_id__in=list(records), source=AttendanceSource.REMOTE).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=at - STAY_MERGE_GAP)
    ):
        candidates[records[stay.record_id].user_id].append(stay)
    changed: dict[int, bool] = {}
    created: list[AttendanceStay] = []
    updated: list[AttendanceStay] = []
    for record in records.values():
        was_open, stay, changed[record.user_id] = _stay_continued(record, candidates[record.user_id], at=at)
        if was_open is not None:
            updated.append(was_open)
        stay.open_sockets += sockets[record.user_id]
        stay.last_seen_at = max(stay.last_seen_at, at)
        (updated if stay.pk else created).append(stay)
    AttendanceStay.objects.bulk_create(created)
    if updated:
        fields = ["ended_at", "timed_out", "open_sockets", "last_seen_at"]
        AttendanceStay.objects.bulk_update(updated, fields)
    first = set()
    outcomes = []
    for user_id in user_ids:
        outcomes.append(changed.get(user_id, False) and user_id not in first)
        first.add(user_id)
    return outcomes


def _stay_continued(
    record: AttendanceRecord, candidates: list[AttendanceStay], *, at: datetime
) -> tuple[AttendanceStay | None, AttendanceStay, bool]:
    """The remote stay a new socket of `record`'s trainee counts in: the open one, else one that ended less than
    STAY_MERGE_GAP ago (reopened), else a new one (unsaved). Also returns a stale open stay it ended, to be saved
    (or None), and whether who-is-here changed."""
    stay = max((c for c in candidates if c.ended_at is None), key=lambda c: c.started_at, default=None)
    ended: AttendanceStay | None = None
    changed = False
    if stay is not None and at - stay.last_seen_at > REMOTE_PRESENCE_TIMEOUT:
        # No heartbeat for a while: the sockets it counted are dead (a crashed process) and the
        # sweep has not closed it yet. Count afresh, and start a new stay after a long gap.
        changed = True
        stay.open_sockets = 0
        if at - stay.last_seen_at > STAY_MERGE_GAP:
            stay.ended_at, stay.timed_out = stay.last_seen_at, True
            ended, stay = stay, None
    if stay is None:
        changed = True
        recent = [c for c in candidates if c.ended_at is not None and c.ended_at >= at - STAY_MERGE_GAP]
        stay = max(recent, key=lambda c: c.ended_at or at, default=None)
        if stay is not None:
            stay.ended_at, stay.timed_out, stay.open_sockets = None, False, 0
        else:
            stay = AttendanceStay(record=record, source=AttendanceSource.REMOTE, started_at=at, last_seen_at=at)
    return ended, stay, changed


@transaction.atomic
def remote_presence_end(*, session: LiveSession, user: User, at: datetime | None = None, announce: bool = True) -> bool:
    """A trainee's socket closed: uncount it, and end the stay when it was the last one.

    Returns whether who-is-here changed (see `remote_presence_start` for `announce`).
    """
    at = _moment(at)
    record = AttendanceRecord.objects.select_for_update().filter(session=session, user=user).first()
    if record is None:
        return False
    stay = (
        AttendanceStay.objects.filter(record=record, source=AttendanceSource.REMOTE, ended_at__isnull=True)
        .order_by("-started_at")
        .first()
    )
    if stay is None:  # already closed by the sweep
        return False
    stay.open_sockets = max(0, stay.open_sockets - 1)
    stay.last_seen_at = max(stay.last_seen_at, at)
    if stay.open_sockets == 0:
        stay.ended_at = at
    stay.save(update_fields=["open_sockets", "last_seen_at", "ended_at"])
    if stay.ended_at is not None and announce:
        _broadcast(session, at)
    return stay.ended_at is not None


@transaction.atomic
def presence_announce(*, session_id: int) -> None:
    """Broadcast who is here now to the session's moderators (one event for a burst of changes)."""
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is not None:
        _broadcast(session, _moment(None))


def remote_presence_seen(*, session_id: int, user_ids: Iterable[int], at: datetime | None = None) -> int:
    """Heartbeats, batched by the caller: one UPDATE of `last_seen_at` for the open remote stays of `user_ids`.

    Returns how many stays were seen. Pass one id per open socket (repeats are fine). Not
    broadcast: a heartbeat changes nobody's presence. The one exception takes a few more
    queries: a stay the sweep closed for lack of heartbeats while its socket was in fact alive
    (a server process paused for over 30 s) is reopened, and that is broadcast.
    """
    at = _moment(at)
    sockets = Counter(user_ids)
    if not sockets:
        return 0
    seen = AttendanceStay.objects.filter(
        record__session_id=session_id,
        record__user_id__in=sockets,
        source=AttendanceSource.REMOTE,
        ended_at__isnull=True,
    ).update(last_seen_at=at)
    if seen < len(sockets):
        seen += _revive_timed_out(session_id=session_id, sockets=sockets, at=at)
    return seen


def _timed_out_stays(*, session_id: int, user_ids: Iterable[int], at: datetime) -> list[AttendanceStay]:
    """Each user's latest remote stay, where it is one the sweep closed less than STAY_MERGE_GAP ago."""
    latest: dict[int, AttendanceStay] = {}
    recent = AttendanceStay.objects.filter(
        record__session_id=session_id,
        record__user_id__in=list(user_ids),
        source=AttendanceSource.REMOTE,
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=at - STAY_MERGE_GAP))
    for stay in recent.select_related("record").order_by("started_at", "pk"):
        latest[stay.record.user_id] = stay
    return [stay for stay in latest.values() if stay.ended_at is not None and stay.timed_out]


@transaction.atomic
def _revive_timed_out(*, session_id: int, sockets: Counter[int], at: datetime) -> int:
    candidates = _timed_out_stays(session_id=session_id, user_ids=sockets, at=at)
    if not candidates:
        return 0
    # Lock, then look again: a reconnect may have opened a new stay meanwhile.
    list(AttendanceRecord.objects.select_for_update().filter(pk__in=[stay.record_id for stay in candidates]))
    revived = 0
    for stay in _timed_out_stays(session_id=session_id, user_ids=[s.record.user_id for s in candidates], at=at):
        stay.ended_at, stay.timed_out, stay.last_seen_at = None, False, at
        stay.open_sockets = sockets[stay.record.user_id]
        stay.save(update_fields=["ended_at", "timed_out", "last_seen_at", "open_sockets"])
        revived += 1
    session = LiveSession.objects.filter(pk=session_id).first()
    if revived and session is not None:
        _broadcast(session, at)
    return revived


def stale_presence_close(*, now: datetime | None = None, timeout_seconds: int = 30) -> int:
    """End every open remote stay not seen for longer than `timeout_seconds`, at its last heartbeat.

    This is how a dead socket, or a server process that crashed with sockets open, is
    noticed: the beat task runs it every 10 seconds. Returns how many stays it ended.
    """
    now = _moment(now)
    cutoff = now - timedelta(seconds=timeout_seconds)
    stale = AttendanceStay.objects.filter(
        source=AttendanceSource.REMOTE, ended_at__isnull=True, last_seen_at__lt=cutoff
    )
    found = list(stale.values_list("pk", "record__session_id"))
    if not found:
        return 0
    with transaction.atomic():
        # The same conditions again: a heartbeat or a disconnect may have come in meanwhile.
        closed = stale.filter(pk__in=[pk for pk, _session in found]).update(
            ended_at=F("last_seen_at"), open_sockets=0, timed_out=True
        )
        for session in LiveSession.objects.filter(pk__in={session_id for _pk, session_id in found}):
            _broadcast(session, now)
    return closed


# In-room check-in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinClaim:
    """What a verified check-in code says: which room, and which 30-second window."""

    room_id: int
    window: int


def _checkin_window(at: datetime) -> int:
    return int(at.timestamp()) // CHECKIN_WINDOW_SECONDS


def _checkin_mac(session_id: int, room_id: int, window: int) -> str:
    # Keyed with SECRET_KEY; 96 bits is plenty for a code that lives a minute.
    return salted_hmac(_CHECKIN_SALT, f"{session_id}:{room_id}:{window}", algorithm="sha256").hexdigest()[:24]


def checkin_code(*, session: LiveSession, room: Room, at: datetime | None = None) -> str:
    """The code the room display shows now: `<room id>.<window>.<HMAC of session, room and window>`."""
    window = _checkin_window(_moment(at))
    return f"{room.pk}.{window}.{_checkin_mac(session.pk, room.pk, window)}"


def checkin_code_rotates_at(*, at: datetime | None = None) -> datetime:
    """When the display's code changes next (the current one stays valid one window longer)."""
    window = _checkin_window(_moment(at))
    return datetime.fromtimestamp((window + 1) * CHECKIN_WINDOW_SECONDS, tz=UTC)


def checkin_code_verify(
    *, session: LiveSession, code: Any, room: Room | None = None, at: datetime | None = None
) -> CheckinClaim:
    """Check a scanned code's signature and age (it writes nothing). `room`, when given, must be the code's."""
    match = _CHECKIN_CODE.match(code) if isinstance(code, str) else None
    invalid = CorridorError(
        "checkin_invalid",
        _("This check-in code is not valid. Scan the code on the room display again."),
    )
    if match is None:
        raise invalid
    room_id, window, mac = int(match[1]), int(match[2]), match[3]
    if not constant_time_compare(mac, _checkin_mac(session.pk, room_id, window)):
        raise invalid
    if room is not None and room.pk != room_id:
        raise invalid
    current = _checkin_window(_moment(at))
    if window > current:  # signed by us, yet not shown yet: a clock that runs ahead, or a leak
        raise invalid
    if window < current - 1:
        raise CorridorError(
            "checkin_expired",
            _("This check-in code has expired. Scan the code on the room display again: it changes every 30 seconds."),
        )
    return CheckinClaim(room_id=room_id, window=window)


def checkin_check(
    *, session: LiveSession, user: Any, code: Any, room: Room | None = None, at: datetime | None = None
) -> Room:
    """Everything room_checkin checks before it writes, except a replay: the page asks before it confirms.

    Returns the room the code is for (`room`, when given, must be it).
    """
    _require_not_ended(session)
    if session_participant(session=session, user=user) != Participant.TRAINEE:
        raise CorridorError(
            "checkin_not_enrolled", _("Only trainees enrolled in this course can check in to its session."), status=403
        )
    claim = checkin_code_verify(session=session, code=code, room=room, at=at)
    checkin_room = room if room is not None else session.rooms.filter(pk=claim.room_id).first()
    if checkin_room is None:
        raise CorridorError("checkin_invalid", _("This room is no longer booked for this session."))
    return checkin_room


@transaction.atomic
def room_checkin(
    *, session: LiveSession, user: Any, code: Any, room: Room | None = None, at: datetime | None = None
) -> AttendanceStay:
    """A trainee scanned the room display: mark them present in that room from now on.

    The user must be an enrolled trainee of the session, the code valid now (see
    CHECKIN_WINDOW_SECONDS) and not used by them before. `room`, when given (the caller has
    checked it is booked for the session), must be the code's. Arriving in a room ends an open
    stay in another room; a return within STAY_MERGE_GAP reopens the stay in this one.
    """
    at = _moment(at)
    checkin_room = checkin_check(session=session, user=user, code=code, room=room, at=at)
    window = checkin_code_verify(session=session, code=code, room=checkin_room, at=at).window
    try:
        with transaction.atomic():
            AttendanceCheckin.objects.create(
                session=session, room=checkin_room, user=user, window=window, checked_in_at=at
            )
    except IntegrityError:
        raise CorridorError(
            "checkin_replayed",
            _("You have already used this code. To check in again, scan the next code on the room display."),
            status=409,
        ) from None
    record = _lock_record(session, user)
    stay, changed = _mark_in_room(record=record, room=checkin_room, source=AttendanceSource.ROOM, at=at)
    if changed:
        _broadcast(session, at)
    return stay


def _require_not_ended(session: LiveSession) -> None:
    if session.state == SessionState.ENDED:
        raise CorridorError("session_ended", _("This session has ended."))


def _mark_in_room(
    *, record: AttendanceRecord, room: Room, source: AttendanceSource, at: datetime, marked_by: Any = None
) -> tuple[AttendanceStay, bool]:
    """Present in `room` from `at` (the record is locked). Returns the stay, and whether presence changed."""
    in_rooms = AttendanceStay.objects.filter(record=record).exclude(source=AttendanceSource.REMOTE)
    # One room at a time: arriving here ends an open stay elsewhere.
    moved = in_rooms.filter(ended_at__isnull=True).exclude(room=room).update(ended_at=at, last_seen_at=at) > 0
    stay = in_rooms.filter(room=room, ended_at__isnull=True).order_by("-started_at").first()
    if stay is not None:
        stay.last_seen_at = max(stay.last_seen_at, at)
        stay.save(update_fields=["last_seen_at"])
        return stay, moved
    stay = in_rooms.filter(room=room, ended_at__gte=at - STAY_MERGE_GAP).order_by("-ended_at").first()
    if stay is not None:
        stay.ended_at, stay.last_seen_at = None, max(stay.last_seen_at, at)
        stay.save(update_fields=["ended_at", "last_seen_at"])
    else:
        stay = AttendanceStay.objects.create(
            record=record, source=source, room=room, started_at=at, last_seen_at=at, marked_by=marked_by
        )
    return stay, True


# The operator's roster ----------------------------------------------------------------------


@transaction.atomic
def roster_mark(
    *, session: LiveSession, room: Room, user: Any, present: bool, by: Any, at: datetime | None = None
) -> None:
    """An operator of `room` (or an administrator) marks a trainee present in the room, or absent from it.

    Present opens (or continues) an in-room stay; absent ends the trainee's open stay in this
    room from now on. Minutes already spent in the room still count.
    """
    at = _moment(at)
    if not can_keep_roster(room=room, user=by):
        raise CorridorError(
            "forbidden", _("Only this room's operators or an administrator keep its roster."), status=403
        )
    if not session.rooms.filter(pk=room.pk).exists():
        raise CorridorError("room_not_in_session", _("That room is not booked for this session."), status=404)
    _require_not_ended(session)
    if session_participant(session=session, user=user) != Participant.TRAINEE:
        raise CorridorError(
            "not_enrolled", _("%(name)s is not a trainee of this session.") % {"name": display_name(user)}
        )
    record = _lock_record(session, user)
    if present:
        _stay, changed = _mark_in_room(record=record, room=room, source=AttendanceSource.ROSTER, at=at, marked_by=by)
    else:
        open_here = AttendanceStay.objects.filter(record=record, room=room, ended_at__isnull=True).exclude(
            source=AttendanceSource.REMOTE
        )
        changed = open_here.update(ended_at=at, last_seen_at=at) > 0
    if changed:
        _broadcast(session, at)
