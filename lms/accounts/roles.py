"""The roles, each a Django group: the first four created by migration 0002, invigilators and company supervisors
by 0007 (issue 16: the exam centre and internships)."""

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    TRAINEE = "Trainees"
    INSTRUCTOR = "Instructors"
    OPERATOR = "Operators"
    ADMINISTRATOR = "Administrators"
    # Check candidates in and run a sitting in the exam rooms assigned to them (exams).
    INVIGILATOR = "Invigilators"
    # A host company's supervisor: sees only their own interns (internships).
    SUPERVISOR = "Supervisors"


def user_roles(user: Any) -> frozenset[Role]:
    """The roles a signed-in user holds (a superuser holds administrator)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached: frozenset[Role] | None = getattr(user, "_corridor_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(role for role in Role if role.value in names)
        if user.is_superuser:
            cached = cached | {Role.ADMINISTRATOR}
        user._corridor_roles = cached
    return cached


def user_has_role(user: Any, role: Role) -> bool:
    return role in user_roles(user)
