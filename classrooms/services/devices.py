"""Rooms' devices and their agents: device tokens, health reports, and operators' start and stop.

A room agent (`python -m classrooms.agent`) holds a token issued to its room; only the token's SHA-256 is stored.
It reports health over its control socket (`classrooms.device_consumer`), and operators start and stop its stream:
the wish is stored on the agent's Device (so an agent that reconnects, or a server that restarts, carries on) and
sent to the agent's socket over the channel layer after commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.agent.protocol import TOKEN_PREFIX, Command, CommandResultFrame, HealthReport, StreamState
from classrooms.models import Device, DeviceHealthSample, DeviceKind, DeviceToken, Room
from classrooms.realtime import group_send
from classrooms.selectors.devices import KEEP_SAMPLES, active_token, room_live_session, token_hash
from lms.accounts.models import User
from lms.errors import CorridorError

AGENT_NAME = "Room agent"


def agent_group(room_id: int) -> str:
    """The channel-layer group of a room's agent control sockets: operators' commands go here."""
    return f"room-agent-{room_id}"


def token_group(token_id: int) -> str:
    """Every socket (control and media) opened with one token: revoking the token closes them."""
    return f"device-token-{token_id}"


@dataclass(frozen=True)
class IssuedToken:
    token: DeviceToken
    secret: str  # shown once; never stored


@dataclass(frozen=True)
class AgentIdentity:
    """Who a room agent's socket is, once its token checked out (plain data, safe to keep in a consumer)."""

    token_id: int
    device_id: int
    room_id: int
    room_name: str
    city: str


def room_agent_ensure(*, room: Room) -> Device:
    agent, _created = Device.objects.get_or_create(room=room, kind=DeviceKind.AGENT, name=AGENT_NAME)
    return agent


def _close_token_sockets_on_commit(token_ids: list[int]) -> None:
    def close() -> None:
        for token_id in token_ids:
            group_send(token_group(token_id), {"type": "device.token_revoked", "token_id": token_id})

    if token_ids:
        transaction.on_commit(close)


@transaction.atomic
def device_token_issue(*, room: Room, by: User | None = None, revoke_others: bool = True) -> IssuedToken:
    """A new token for `room`'s agent. With `revoke_others` (the default) it replaces the room's earlier tokens,
    and agents still connected with them are disconnected."""
    agent = room_agent_ensure(room=room)
    if revoke_others:
        _revoke(DeviceToken.objects.filter(device=agent, revoked_at__isnull=True))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DeviceToken.objects.create(
        device=agent,
        token_hash=token_hash(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 4],
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    return IssuedToken(token=token, secret=secret)


def _revoke(tokens: QuerySet[DeviceToken]) -> list[int]:
    ids = list(tokens.select_for_update().values_list("pk", flat=True))
    DeviceToken.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
    _close_token_sockets_on_commit(ids)
    return ids


@transaction.atomic
def device_token_revoke(*, token: DeviceToken) -> None:
    """Revoke `token` (idempotent); sockets opened with it close (CloseCode.UNAUTHENTICATED) once this commits."""
    _revoke(DeviceToken.objects.filter(pk=token.pk, revoked_at__isnull=True))


def agent_authenticate(*, token: str, now: datetime | None = None) -> AgentIdentity | None:
    """The agent a presented token belongs to, or None if it is unknown or revoked. Notes when it was used."""
    found = active_token(token=token)
    if found is None:
        return None
    DeviceToken.objects.filter(pk=found.pk).update(last_used_at=now or timezone.now())
    room = found.device.room
    return AgentIdentity(
        token_id=found.pk, device_id=found.device_id, room_id=room.pk, room_name=room.name, city=room.city
    )


def agent_stream_state(*, agent_id: int) -> StreamState:
    """What the agent should be doing now: streaming into its room's live session, or not."""
    agent = Device.objects.select_related("room").get(pk=agent_id)
    session = room_live_session(room=agent.room) if agent.stream_requested else None
    return {"requested": agent.stream_requested, "session_id": session.pk if session else None}


def agent_connected(*, agent_id: int, now: datetime | None = None) -> None:
    Device.objects.filter(pk=agent_id).update(last_seen=now or timezone.now())


@transaction.atomic
def agent_disconnected(*, agent_id: int) -> None:
    """The agent's control socket closed: nothing of the room is known to publish any more."""
    room_id = Device.objects.filter(pk=agent_id).values_list("room_id", flat=True).first()
    if room_id is not None:
        Device.objects.filter(room_id=room_id).update(publishing=False)


def _sample_figures(health: dict[str, Any]) -> dict[str, float | None]:
    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    link = health.get("link") or {}
    return {
        "fps": number(health.get("fps")),
        "bitrate_kbps": number(health.get("bitrate_kbps")),
        "rtt_ms": number(link.get("rtt_ms")),
        "loss_pct": number(link.get("loss_pct")),
    }


@transaction.atomic
def agent_health_record(*, agent_id: int, report: HealthReport, now: datetime | None = None) -> None:
    """Store an agent's health report (already validated by the consumer): the agent's own figures and link,
    each device it names (created on first report), and a sample of each for the console's charts."""
    now = now or timezone.now()
    agent = Device.objects.select_for_update().get(pk=agent_id)
    publishing = report["publishing"]
    agent.health = {
        "cpu_pct": report["cpu_pct"],
        "temperature_c": report["temperature_c"],
        "link": dict(report["link"]),
        "session_id": report["session_id"],
        "publishing": publishing,
        "ok": True,
    }
    agent.last_seen, agent.publishing = now, publishing
    agent.save(update_fields=["health", "last_seen", "publishing"])
    samples = [DeviceHealthSample(device=agent, at=now, **_sample_figures(agent.health))]
    for reported in report["devices"]:
        device, _created = Device.objects.get_or_create(
            room_id=agent.room_id, kind=reported["kind"], name=reported["name"]
        )
        device.health = {key: value for key, value in reported.items() if key not in ("kind", "name")}
        device.last_seen, device.publishing = now, publishing and reported["ok"]
        device.save(update_fields=["health", "last_seen", "publishing"])
        samples.append(DeviceHealthSample(device=device, at=now, **_sample_figures(device.health)))
    DeviceHealthSample.objects.bulk_create(samples)
    DeviceHealthSample.objects.filter(device__room_id=agent.room_id, at__lt=now - KEEP_SAMPLES).delete()


@transaction.atomic
def agent_stream_request(*, room: Room, requested: bool) -> Device:
    """Set whether the room should stream, without a command: the agent picks it up when it (re)connects or
    reports (the demo asks its rooms to stream from the start)."""
    agent = room_agent_ensure(room=room)
    Device.objects.filter(pk=agent.pk).update(stream_requested=requested)
    agent.stream_requested = requested
    return agent


@transaction.atomic
def agent_command_send(*, room: Room, command: Command, by: User | None = None) -> dict[str, Any]:
    """An operator starts or stops the room's stream (authorised by the caller: see classrooms/selectors/devices.py).

    The wish is kept on the agent's Device; the command reaches the agent's control socket after commit, and the
    agent's `command.result` completes `last_command`. Start needs a live session in the room.
    """
    agent = room_agent_ensure(room=room)
    agent = Device.objects.select_for_update().get(pk=agent.pk)
    session = room_live_session(room=room)
    if command == "start" and session is None:
        raise CorridorError("no_live_session", _("No live session is being held in this room now."), status=409)
    agent.stream_requested = command == "start"
    agent.last_command = {
        "id": secrets.token_hex(6),
        "command": command,
        "session_id": session.pk if session else None,
        "by": str(by) if getattr(by, "is_authenticated", False) else "",
        "sent_at": timezone.now().isoformat(),
        "ok": None,
        "message": "",
        "done_at": None,
    }
    agent.save(update_fields=["stream_requested", "last_command"])
    frame = {
        "type": "agent.command",
        "id": agent.last_command["id"],
        "command": command,
        "session_id": agent.last_command["session_id"],
    }
    transaction.on_commit(lambda: group_send(agent_group(room.pk), frame))
    return dict(agent.last_command)


@transaction.atomic
def agent_command_result(*, agent_id: int, result: CommandResultFrame, now: datetime | None = None) -> bool:
    """The agent's answer to a command. Returns whether it answered the room's latest command."""
    agent = Device.objects.select_for_update().get(pk=agent_id)
    agent.publishing = result["publishing"]
    fields = ["publishing"]
    latest = bool(agent.last_command.get("id") == result["id"])
    if latest:
        agent.last_command = {
            **agent.last_command,
            "ok": result["ok"],
            "message": result["message"][:500],
            "done_at": (now or timezone.now()).isoformat(),
        }
        fields.append("last_command")
    agent.save(update_fields=fields)
    return latest
