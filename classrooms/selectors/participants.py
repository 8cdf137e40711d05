"""Who takes part in a live session, and as what."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from classrooms.models import LiveSession
from courses.models import Enrolment
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles


class Participant(StrEnum):
    INSTRUCTOR = "instructor"
    ADMINISTRATOR = "administrator"
    OPERATOR = "operator"
    TRAINEE = "trainee"


MODERATORS = frozenset({Participant.INSTRUCTOR, Participant.ADMINISTRATOR})


def session_participant(*, session: LiveSession, user: Any) -> Participant | None:
    """The part `user` plays in `session`, or None if they may not join it."""
    if not getattr(user, "is_authenticated", False):
        return None
    if session.instructor_id == user.pk:
        return Participant.INSTRUCTOR
    roles = user_roles(user)
    if Role.ADMINISTRATOR in roles:
        return Participant.ADMINISTRATOR
    if Role.OPERATOR in roles and session.rooms.filter(operators=user).exists():
        return Participant.OPERATOR
    if Enrolment.objects.filter(user=user, course_key=session.course.translation_key).exists():
        return Participant.TRAINEE
    return None


def session_participants(*, session_id: int, user_ids: Iterable[int]) -> dict[int, Participant]:
    """`session_participant` for many users at once (four queries, whatever their number): the
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
    names: dict[int, set[str]] = defaultdict(set)
    for user_id, group in User.groups.through.objects.filter(user_id__in=ids).values_list("user_id", "group__name"):
        names[user_id].add(group)
    parts: dict[int, Participant] = {}
    for user_id, is_superuser in User.objects.filter(pk__in=ids, is_active=True).values_list("pk", "is_superuser"):
        if session.instructor_id == user_id:
            parts[user_id] = Participant.INSTRUCTOR
        elif is_superuser or Role.ADMINISTRATOR.value in names[user_id]:
            parts[user_id] = Participant.ADMINISTRATOR
        elif Role.OPERATOR.value in names[user_id] and user_id in operating:
            parts[user_id] = Participant.OPERATOR
        elif user_id in enrolled:
            parts[user_id] = Participant.TRAINEE
    return parts
