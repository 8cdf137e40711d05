"""Reads for the raised hands of a live session."""

from __future__ import annotations

from classrooms.events import HandPayload
from classrooms.models import LiveSession, RaisedHand


def hands_queue(*, session: LiveSession) -> list[HandPayload]:
    hands = RaisedHand.objects.filter(session=session, lowered_at__isnull=True).select_related("user")
    return [
        {"user_id": h.user_id, "name": h.user.get_full_name() or h.user.email, "raised_at": h.raised_at.isoformat()}
        for h in hands
    ]
