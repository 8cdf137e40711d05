"""Reads about operators' alerts: which are open, who hears of them, and whether a link has been lossy for long."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from classrooms.models import Alert, LiveSession, Room, SessionState
from classrooms.selectors.devices import operated_rooms
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles


def open_alerts() -> QuerySet[Alert]:
    return Alert.objects.filter(cleared_at__isnull=True).select_related("room", "device")


def alerts_for_user(*, user: Any) -> QuerySet[Alert]:
    """The open alerts `user` should see: those of the rooms they operate, and the cross-border link's (every
    operator's and administrator's concern). None for anyone else."""
    roles = user_roles(user)
    if not roles & {Role.OPERATOR, Role.ADMINISTRATOR}:
        return Alert.objects.none()
    return open_alerts().filter(Q(room__in=operated_rooms(user=user)) | Q(room__isnull=True)).order_by("raised_at")


def alert_recipients(*, room: Room | None) -> list[User]:
    """Who is emailed: the room's operators, or for the cross-border link every room's operators."""
    users = User.objects.filter(is_active=True).exclude(email="")
    if room is not None:
        return list(users.filter(operated_rooms=room).distinct())
    return list(users.filter(operated_rooms__isnull=False).distinct())


def alert_sessions(*, room: Room | None) -> list[LiveSession]:
    """The live sessions whose pages show the alert: those held in the room (every live one for the link)."""
    sessions = LiveSession.objects.filter(state=SessionState.LIVE)
    if room is not None:
        sessions = sessions.filter(rooms=room)
    return list(sessions.distinct())


def session_operator_ids(*, session: LiveSession, room: Room | None) -> list[int]:
    rooms = session.rooms.all() if room is None else Room.objects.filter(pk=room.pk)
    return sorted(set(User.objects.filter(operated_rooms__in=rooms).values_list("pk", flat=True)))


def lossy_since(samples: Sequence[tuple[datetime, float | None]], *, threshold: float) -> datetime | None:
    """When the current run of lossy samples (loss above `threshold`, newest last) began; None when the newest
    sample is not lossy. A sample without a loss figure ends the run."""
    start = None
    for at, loss in reversed(samples):
        if loss is None or loss <= threshold:
            break
        start = at
    return start
