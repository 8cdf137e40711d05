"""Reads of the audit log: who may read it (administrators), and its entries filtered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from classrooms.models import AuditEntry
from lms.accounts.roles import Role, user_roles


def can_read_audit(*, user: Any) -> bool:
    return getattr(user, "is_authenticated", False) and Role.ADMINISTRATOR in user_roles(user)


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # part of the name or email
    action: str = ""  # an action or its prefix ("room.stream")
    room_id: int | None = None
    result: str = ""
    since: date | None = None
    until: date | None = None  # inclusive


def audit_entries(*, filters: AuditFilter) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("room", "actor")
    if filters.actor:
        entries = entries.filter(Q(actor_name__icontains=filters.actor) | Q(actor__email__icontains=filters.actor))
    if filters.action:
        entries = entries.filter(action__startswith=filters.action)
    if filters.room_id is not None:
        entries = entries.filter(room_id=filters.room_id)
    if filters.result:
        entries = entries.filter(result=filters.result)
    zone = timezone.get_current_timezone()
    if filters.since:
        entries = entries.filter(at__gte=datetime.combine(filters.since, time.min, tzinfo=zone))
    if filters.until:
        entries = entries.filter(at__lt=datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=zone))
    return entries.order_by("-at", "-pk")


def audit_actions() -> list[str]:
    """The actions recorded so far (for the filter's choices)."""
    return sorted(AuditEntry.objects.values_list("action", flat=True).distinct())
