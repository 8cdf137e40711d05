"""The one way a live-session change reaches sockets: persisted as a LiveEvent, sent after commit."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from classrooms.events import EventKind
from classrooms.models import LiveEvent, LiveSession


def session_group(session_id: int) -> str:
    return f"live-session-{session_id}"


def broadcast_on_commit(
    session: LiveSession, kind: EventKind, data: Any, *, moderators_only: bool = False
) -> LiveEvent:
    """Record the event now (inside the caller's transaction) and broadcast it once that commits.

    If the transaction rolls back, neither the change nor the event exists and
    nothing is sent.
    """
    event = LiveEvent.objects.create(session=session, kind=kind, payload=data, moderators_only=moderators_only)
    message = {
        "type": "live.event",
        "event_id": event.pk,
        "kind": kind,
        "data": data,
        "moderators_only": moderators_only,
    }
    transaction.on_commit(lambda: _group_send(session_group(session.pk), message))
    return event


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)
