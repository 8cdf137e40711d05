"""The one way a live-session change reaches sockets: persisted as a LiveEvent, sent after commit."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from classrooms.events import EventKind
from classrooms.fanout import CONTROL_GROUP, session_group
from classrooms.models import LiveEvent, LiveSession

logger = logging.getLogger(__name__)


def frame_text(kind: str, event_id: int, data: Any) -> str:
    """The frame exactly as sockets receive it, serialised once for every receiver."""
    return json.dumps({"type": kind, "event_id": event_id, "data": data}, ensure_ascii=False)


def broadcast_on_commit(
    session: LiveSession,
    kind: EventKind,
    data: Any,
    *,
    moderators_only: bool = False,
    private: tuple[int, str, Any] | None = None,
) -> LiveEvent:
    """Record the event now (inside the caller's transaction) and broadcast it once that commits.

    If the transaction rolls back, neither the change nor the event exists and
    nothing is sent. `private` = (user id, kind, data): what one non-moderator
    receives of a moderators-only event (a trainee learns their hand was lowered).

    Takes the session's row lock (held until commit) before the event gets its id, so a
    session's events commit in id order: a client that resumes with `sync` after the last id
    it saw, or drops what a snapshot already holds, can never skip an event that was still
    being committed under a lower id.
    """
    LiveSession.objects.select_for_update().filter(pk=session.pk).values_list("pk").first()
    event = LiveEvent.objects.create(session=session, kind=kind, payload=data, moderators_only=moderators_only)
    message: dict[str, Any] = {
        "type": "live.event",
        "event_id": event.pk,  # hubs remember the last they delivered, to catch up from after a layer outage
        "text": frame_text(kind, event.pk, data),
        "moderators_only": moderators_only,
    }
    if private is not None:
        user_id, private_kind, private_data = private
        message["private"] = {"user_id": user_id, "text": frame_text(private_kind, event.pk, private_data)}
    transaction.on_commit(lambda: group_send(session_group(session.pk), message))
    return event


def user_group(user_id: int) -> str:
    """The channel-layer group of one person's media sockets (live sockets hear CONTROL_GROUP through the hub)."""
    return f"user-sockets-{user_id}"


def close_user_sockets(user_id: int, *, code: str = "signed_out", message: str = "") -> None:
    """Close every live and media socket `user_id` has open, in every server process.

    With code "role_changed" each socket first re-checks the user's part in its
    own session and stays open if they still belong there.
    """
    control = {"type": "live.control", "user_id": user_id, "code": code, "message": message}

    def send() -> None:
        group_send(CONTROL_GROUP, control)
        group_send(user_group(user_id), control)

    # After commit: the sockets re-read the user's roles, and must see the change.
    transaction.on_commit(send)


def group_send(group: str, message: dict[str, Any]) -> None:
    """Publish after commit. A layer that is away (Redis restarting) is logged, not raised: the change and its
    event are committed, the person who made it must hear it worked, and the hubs catch their sockets up from the
    database once the layer is back (classrooms.fanout)."""
    layer = get_channel_layer()
    if layer is not None:
        if message.get("type") == "live.event":
            # When it left, for the fan-out latency metric (classrooms.fanout; wall clock: it may cross processes).
            message = {**message, "sent_at": time.time()}
        try:
            async_to_sync(layer.group_send)(group, message)
        except (ConnectionError, OSError, RedisError, TimeoutError):
            logger.warning("layer unavailable: %s not published to %s", message.get("type"), group, exc_info=True)
