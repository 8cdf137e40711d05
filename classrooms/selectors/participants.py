"""Who takes part in a live session, and as what."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from classrooms.models import LiveSession, QuestionVote, RaisedHand
from courses.models import CourseTeacher, Enrolment
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles


class Participant(StrEnum):
    INSTRUCTOR = "instructor"
    ADMINISTRATOR = "administrator"
    OPERATOR = "operator"
    TRAINEE = "trainee"


MODERATORS = frozenset({Participant.INSTRUCTOR, Participant.ADMINISTRATOR})


def session_participant(*, session: LiveSession, user: Any) -> Participant | None:
    """The part `user` plays in `session`, or None if they may not join it. A one-to-one session
    (`LiveSession.one_to_one_with`) takes its instructor, its one other person and administrators only."""
    if not getattr(user, "is_authenticated", False):
        return None
    return _part(
        session=session,
        user=user,
        roles=lambda: user_roles(user),
        operates=lambda: session.rooms.filter(operators=user).exists(),
        enrolled=lambda: Enrolment.objects.filter(user=user, course_key=session.course.translation_key).exists(),
        teaches=lambda: CourseTeacher.objects.filter(user=user, course_key=session.course.translation_key).exists(),
    )


def _part(
    *,
    session: LiveSession,
    user: Any,
    roles: Callable[[], frozenset[Role]],
    operates: Callable[[], bool],
    enrolled: Callable[[], bool],
    teaches: Callable[[], bool],
) -> Participant | None:
    """The one rule of who takes part as what (the facts it needs asked only when it needs them). A member of the
    course's teaching team (courses.CourseTeacher) is an instructor of every session of it but a one-to-one."""
    if session.instructor_id == user.pk:
        return Participant.INSTRUCTOR
    held = roles()
    if Role.ADMINISTRATOR in held:
        return Participant.ADMINISTRATOR
    if session.one_to_one_with_id is not None:
        # A one-to-one: its one other person, and nobody else of the course (nor an operator: it has no room).
        return Participant.TRAINEE if session.one_to_one_with_id == user.pk else None
    if teaches():
        return Participant.INSTRUCTOR
    if Role.OPERATOR in held and operates():
        return Participant.OPERATOR
    if enrolled():
        return Participant.TRAINEE
    return None


@dataclass(frozen=True)
class SessionEntry:
    """What a joining socket reads before its welcome: the session, the user's part in it, their raised hand, and
    whether they have voted on any of its questions (most who join have not: their votes then need no query)."""

    session: LiveSession | None
    participant: Participant | None
    hand_raised: bool = False
    has_voted: bool = True


# Stand-ins for the session and user ids while the entry query is compiled: no row has them, and they are found again
# among the compiled query's parameters to be replaced by each join's own.
_ENTRY_SESSION_ID, _ENTRY_USER_ID = -1_000_000_007, -1_000_000_009


ENTRY_FLAGS = ("enrolled", "operates", "hand", "voted", "administrator", "operator", "teaches")


def _entry_queryset(session_id: int, user_id: int) -> QuerySet[LiveSession]:
    groups = User.groups.through.objects.filter(user_id=user_id)
    return LiveSession.objects.filter(pk=session_id).annotate(
        entry_enrolled=Exists(
            Enrolment.objects.filter(user_id=user_id, course_key=OuterRef("course__translation_key"))
        ),
        entry_operates=Exists(
            LiveSession.rooms.through.objects.filter(livesession_id=OuterRef("pk"), room__operators=user_id)
        ),
        entry_hand=Exists(
            RaisedHand.objects.filter(session_id=OuterRef("pk"), user_id=user_id, lowered_at__isnull=True)
        ),
        entry_voted=Exists(QuestionVote.objects.filter(question__session_id=OuterRef("pk"), user_id=user_id)),
        entry_administrator=Exists(groups.filter(group__name=Role.ADMINISTRATOR.value)),
        entry_operator=Exists(groups.filter(group__name=Role.OPERATOR.value)),
        entry_teaches=Exists(
            CourseTeacher.objects.filter(user_id=user_id, course_key=OuterRef("course__translation_key"))
        ),
    )


@functools.cache
def _entry_sql(vendor: str) -> tuple[str, tuple[Any, ...]]:
    """The entry query's SQL, compiled once per process (and database kind): building and compiling a queryset with
    seven subqueries cost a join more than running it."""
    sql, params = _entry_queryset(_ENTRY_SESSION_ID, _ENTRY_USER_ID).query.sql_with_params()
    if _ENTRY_SESSION_ID not in params or _ENTRY_USER_ID not in params:
        raise RuntimeError("the entry query's compiled parameters no longer hold the session and user ids")
    return sql, tuple(params)


def session_entry(*, session_id: int, user: Any) -> SessionEntry:
    """`session_participant` for a socket's join in one query: the session, whether the user is enrolled in its
    course or teaches it, operates one of its rooms, holds the roles that decide their part, and has a hand raised in
    it.
    2,000 trainees join in the minute a class starts: each round trip, and each expression Django builds, counts,
    so the query is compiled once (`_entry_sql`) and run with this join's ids."""
    if not getattr(user, "is_authenticated", False):
        return SessionEntry(LiveSession.objects.filter(pk=session_id).first(), None)
    sql, stand_ins = _entry_sql(connection.vendor)
    ids = {_ENTRY_SESSION_ID: session_id, _ENTRY_USER_ID: user.pk}
    params = [ids.get(value, value) if isinstance(value, int) else value for value in stand_ins]
    found = next(iter(LiveSession.objects.raw(sql, params)), None)
    if found is None:
        return SessionEntry(None, None)

    # Raw rows carry the EXISTS columns as the database returns them (SQLite: 0 or 1).
    flags = {name: bool(getattr(found, f"entry_{name}")) for name in ENTRY_FLAGS}

    def roles() -> frozenset[Role]:
        # Only the roles that decide a part (user_roles would read them all, in a query of its own).
        cached: frozenset[Role] | None = getattr(user, "_corridor_roles", None)
        if cached is not None:
            return cached
        held = {Role.ADMINISTRATOR} if flags["administrator"] or user.is_superuser else set()
        return frozenset(held | ({Role.OPERATOR} if flags["operator"] else set()))

    participant = _part(
        session=found,
        user=user,
        roles=roles,
        operates=lambda: flags["operates"],
        enrolled=lambda: flags["enrolled"],
        teaches=lambda: flags["teaches"],
    )
    return SessionEntry(found, participant, hand_raised=flags["hand"], has_voted=flags["voted"])


def session_participants(*, session_id: int, user_ids: Iterable[int]) -> dict[int, Participant]:
    """`session_participant` for many users at once (five queries, whatever their number): the
    part each plays in the session; users who may no longer be there are left out."""
    ids = set(user_ids)
    session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
    if session is None or not ids:
        return {}
    enrolled = set(
        Enrolment.objects.filter(user_id__in=ids, course_key=session.course.translation_key).values_list(
            "user_id", flat=True
        )
    )
    operating = set(session.rooms.filter(operators__in=ids).values_list("operators", flat=True))
    teaching = set(
        CourseTeacher.objects.filter(user_id__in=ids, course_key=session.course.translation_key).values_list(
            "user_id", flat=True
        )
    )
    names: dict[int, set[str]] = defaultdict(set)
    for user_id, group in User.groups.through.objects.filter(user_id__in=ids).values_list("user_id", "group__name"):
        names[user_id].add(group)
    parts: dict[int, Participant] = {}
    for user_id, is_superuser in User.objects.filter(pk__in=ids, is_active=True).values_list("pk", "is_superuser"):
        if session.instructor_id == user_id:
            parts[user_id] = Participant.INSTRUCTOR
        elif is_superuser or Role.ADMINISTRATOR.value in names[user_id]:
            parts[user_id] = Participant.ADMINISTRATOR
        elif session.one_to_one_with_id is not None:
            if session.one_to_one_with_id == user_id:
                parts[user_id] = Participant.TRAINEE
        elif user_id in teaching:
            parts[user_id] = Participant.INSTRUCTOR
        elif Role.OPERATOR.value in names[user_id] and user_id in operating:
            parts[user_id] = Participant.OPERATOR
        elif user_id in enrolled:
            parts[user_id] = Participant.TRAINEE
    return parts
