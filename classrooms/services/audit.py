"""The audit log: every operator's and administrator's action on rooms, devices, tokens, streams and sessions.

Services record their actions with `audit_record` (who, what, on what, from where, how it ended); views pass the
request's address (`request_address`). The log is append-only: `AuditEntry` refuses changes and deletions.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from classrooms.models import AuditEntry, Room


def request_address(request: HttpRequest | None) -> str | None:
    """Where a request came from: the client address the server saw (a proxy in front sets REMOTE_ADDR through
    its ASGI/WSGI server's forwarded-header handling, not here: a client could forge the header)."""
    if request is None:
        return None
    return valid_address(request.META.get("REMOTE_ADDR"))


def scope_address(scope: dict[str, Any]) -> str | None:
    """Where a socket came from (its ASGI scope's client)."""
    client = scope.get("client") or ()
    return valid_address(client[0] if client else None)


def valid_address(value: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value))) if value else None
    except ValueError:
        return None


def _actor_name(actor: Any) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    full = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
    return f"{full} <{actor.email}>" if full else str(getattr(actor, "email", "") or actor)


def audit_record(
    *,
    actor: Any,
    action: str,
    target: str = "",
    room: Room | None = None,
    result: str = "ok",
    address: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry. `action` is a dotted name ("room.stream.stop", "device.token.issue"); `result` is "ok",
    "refused" or "failed"; `details` holds anything else worth keeping (never a secret)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        at=now or timezone.now(),
        actor=user,
        actor_name=_actor_name(actor),
        action=action[:60],
        target=target[:200],
        room=room,
        result=result[:20],
        address=valid_address(address),
        details=details or {},
    )
