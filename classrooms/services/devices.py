"""Rooms' devices and their agents: device tokens, health reports, and operators' start and stop.

A room agent (`python -m classrooms.agent`) holds a token issued to its room; only the token's SHA-256 is stored.
It reports health over its control socket (`classrooms.device_consumer`). The agent follows its room's sessions:
when a session held in the room goes live it publishes into it, and when that session ends it stops, with no
operator command (`agents_follow_session_on_commit`). An operator may stop the room's stream: that stop holds for
the session live at the time (`Device.stream_stopped_session`), so the room's next session streams again; an
operator's start lifts it. The wish is stored on the agent's Device (so an agent that reconnects, or a server that
restarts, carries on) and sent to the agent's socket over the channel layer after commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.agent.protocol import (
    TOKEN_PREFIX,
    CameraResultFrame,
    Command,
    CommandResultFrame,
    HealthReport,
    StreamState,
)
from classrooms.agent.visca import PRESET_ACTIONS, PRESETS, PresetAction
from classrooms.models import Device, DeviceHealthSample, DeviceKind, DeviceReview, DeviceToken, LiveSession, Room
from classrooms.realtime import group_send
from classrooms.selectors.devices import (
    KEEP_SAMPLES,
    active_token,
    device_status,
    room_agent,
    room_device_count,
    room_live_session,
    token_hash,
)
from classrooms.signals import room_microphone_changed, room_stream_changed
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
    """What the agent should be doing now: streaming into its room's live session, or not (no session is live, or
    an operator stopped the room for this one). An agent not asked to stream is waiting, which is not a fault."""
    agent = Device.objects.select_related("room").get(pk=agent_id)
    session = room_live_session(room=agent.room) if agent.stream_requested else None
    if session is not None and agent.stream_stopped_session_id == session.pk:
        session = None
    return {"requested": session is not None, "session_id": session.pk if session else None}


def agents_follow_session_on_commit(*, session: LiveSession) -> None:
    """Once the caller's transaction commits, tell the agents of the session's rooms to re-read what they should be
    doing (the session went live or ended): each control socket sends its agent the new stream state."""
    room_ids = list(session.rooms.values_list("pk", flat=True))

    def tell() -> None:
        for room_id in room_ids:
            group_send(agent_group(room_id), {"type": "agent.stream", "session_id": session.pk})

    if room_ids:
        transaction.on_commit(tell)


def agent_connected(*, agent_id: int, now: datetime | None = None) -> None:
    now = now or timezone.now()
    Device.objects.filter(pk=agent_id).update(last_seen=now, connected_at=now)


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
    # Reports fill in registered devices' state; a name nobody registered is kept for review ("pending"), up to the
    # room's cap; a dismissed name is ignored, and so is anything beyond the cap (counted, for the console).
    count, beyond_cap = room_device_count(room_id=agent.room_id), 0
    for reported in report["devices"]:
        device = Device.objects.filter(room_id=agent.room_id, kind=reported["kind"], name=reported["name"]).first()
        if device is None:
            if count >= settings.ROOM_DEVICE_CAP:
                beyond_cap += 1
                continue
            device = Device.objects.create(
                room_id=agent.room_id, kind=reported["kind"], name=reported["name"], review=DeviceReview.PENDING
            )
            count += 1
        if device.review == DeviceReview.DISMISSED:
            continue
        device.health = {key: value for key, value in reported.items() if key not in ("kind", "name")}
        device.last_seen, device.publishing = now, publishing and reported["ok"]
        device.save(update_fields=["health", "last_seen", "publishing"])
        samples.append(DeviceHealthSample(device=device, at=now, **_sample_figures(device.health)))
    if beyond_cap:
        agent.health["beyond_cap"] = beyond_cap
        agent.save(update_fields=["health"])
    DeviceHealthSample.objects.bulk_create(samples)
    DeviceHealthSample.objects.filter(device__room_id=agent.room_id, at__lt=now - KEEP_SAMPLES).delete()


@transaction.atomic
def agent_stream_request(*, room: Room, requested: bool) -> Device:
    """Set whether the room streams its live sessions at all (the default), without a command: the agent picks it
    up when it (re)connects or reports."""
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
    if session is None:
        # Between sessions the agent waits anyway: there is nothing to start or stop.
        raise CorridorError("no_live_session", _("No live session is being held in this room now."), status=409)
    if command == "start":
        agent.stream_requested, agent.stream_stopped_session = True, None
    else:
        agent.stream_stopped_session = session  # for this session only: the room's next session streams again
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
    agent.save(update_fields=["stream_requested", "stream_stopped_session", "last_command"])
    frame = {
        "type": "agent.command",
        "id": agent.last_command["id"],
        "command": command,
        "session_id": agent.last_command["session_id"],
    }
    transaction.on_commit(lambda: group_send(agent_group(room.pk), frame))
    room_stream_changed.send(sender=Room, room=room, session=session, paused=command == "stop")
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


@transaction.atomic
def room_microphone_set(*, room: Room, muted: bool, by: User | None = None) -> Device:
    """Mute or unmute the room's microphone (authorised by the caller: a moderator of a session held in the room,
    or one of its operators). Kept on the agent's Device, so an agent that reconnects mutes itself again; after
    commit the agent's control socket hears it (`agent.microphone`) and, through `room_microphone_changed`, so do
    the media sockets of the room's live session (the tile shows "muted")."""
    agent = room_agent_ensure(room=room)
    Device.objects.filter(pk=agent.pk).update(microphone_muted=muted)
    agent.microphone_muted = muted
    room_id = room.pk
    transaction.on_commit(lambda: group_send(agent_group(room_id), {"type": "agent.microphone", "muted": muted}))
    room_microphone_changed.send(sender=Room, room=room, muted=muted, by=by)
    return agent


def agent_microphone_muted(*, agent_id: int) -> bool:
    """Whether the agent's room is muted (the welcome and each health ack say so: the agent reconciles)."""
    return bool(Device.objects.filter(pk=agent_id).values_list("microphone_muted", flat=True).first())


# The device registry ----------------------------------------------------------------------------------------------
# Administrators and the room's operators keep it (authorised by the caller: selectors.devices.can_operate_room).
# Every operator action below is one service function, so the audit log can record each in one place.

REGISTRABLE_KINDS = frozenset({DeviceKind.CAMERA, DeviceKind.MICROPHONE, DeviceKind.DISPLAY, DeviceKind.ENCODER})


def _clean_presets(presets: dict[str, str] | None) -> dict[str, str]:
    """Preset names by number ("1"–"6"), blank ones left out."""
    return {
        str(number): str(presets[str(number)]).strip()[:60]
        for number in PRESETS
        if presets and str(presets.get(str(number), "")).strip()
    }


def _registry_fields(
    device: Device, *, name: str, model: str, address: str, visca_port: int | None, presets: dict[str, str] | None
) -> None:
    name = name.strip()
    if not name:
        raise CorridorError("invalid_device", _("Give the device a name."))
    duplicate = Device.objects.filter(room_id=device.room_id, kind=device.kind, name=name).exclude(pk=device.pk)
    if duplicate.exists():
        raise CorridorError("duplicate_device", _("This room already has a device of that kind with that name."))
    if visca_port is not None and not 1 <= visca_port <= 65535:
        raise CorridorError("invalid_device", _("A port is a number from 1 to 65535."))
    device.name, device.model, device.address = name, model.strip(), address.strip()
    is_camera = device.kind == DeviceKind.CAMERA
    device.visca_port = visca_port if is_camera else None
    device.presets = _clean_presets(presets) if is_camera else {}


@transaction.atomic
def device_register(
    *,
    room: Room,
    kind: str,
    name: str,
    model: str = "",
    address: str = "",
    visca_port: int | None = None,
    presets: dict[str, str] | None = None,
    by: User | None = None,
) -> Device:
    """Register a camera, microphone, display or encoder in `room` (within the room's cap)."""
    if kind not in REGISTRABLE_KINDS:
        raise CorridorError("invalid_device", _("Choose a camera, microphone, display or encoder."))
    Room.objects.select_for_update().filter(pk=room.pk).first()  # one registration at a time per room: the cap holds
    if room_device_count(room_id=room.pk) >= settings.ROOM_DEVICE_CAP:
        raise CorridorError(
            "device_cap",
            _("This room has %(cap)d devices, its limit. Dismiss or remove one first.")
            % {"cap": settings.ROOM_DEVICE_CAP},
            status=409,
        )
    device = Device(room=room, kind=kind, review=DeviceReview.ACCEPTED)
    _registry_fields(device, name=name, model=model, address=address, visca_port=visca_port, presets=presets)
    device.save()
    return device


@transaction.atomic
def device_update(
    *,
    device: Device,
    name: str,
    model: str = "",
    address: str = "",
    visca_port: int | None = None,
    presets: dict[str, str] | None = None,
    by: User | None = None,
) -> Device:
    """Change a registered device's name, model, address, VISCA port and preset names; it counts as registered.
    The room agent keeps its name (its token and reports find it by it); its model and address may change."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.kind == DeviceKind.AGENT:
        name = AGENT_NAME
    _registry_fields(device, name=name, model=model, address=address, visca_port=visca_port, presets=presets)
    device.review = DeviceReview.ACCEPTED
    device.save(update_fields=["name", "model", "address", "visca_port", "presets", "review"])
    return device


@transaction.atomic
def device_review(*, device: Device, accept: bool, by: User | None = None) -> Device:
    """An operator's word on a device an agent reported that nobody registered: accept it into the registry, or
    dismiss it (its reports are ignored from now on; accepting it later brings it back)."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.kind == DeviceKind.AGENT:
        raise CorridorError("invalid_device", _("The room agent is registered by issuing it a token."))
    device.review = DeviceReview.ACCEPTED if accept else DeviceReview.DISMISSED
    if not accept:
        device.publishing = False
    device.save(update_fields=["review", "publishing"])
    return device


# Camera presets over VISCA-over-IP -------------------------------------------------------------------------------
# The console sends recall/store to the room's agent socket; the agent sends VISCA to the camera's address:port and
# reports the camera's answer (`camera.result`), which completes the camera's `last_command`.

CAMERA_ANSWER_WITHIN_SECONDS = 6  # the agent waits 2 s for the camera; beyond this the agent itself did not answer


@transaction.atomic
def camera_preset_send(
    *, room: Room, camera: Device, action: PresetAction, preset: int, by: User | None = None
) -> dict[str, Any]:
    """Recall or store a preset (1–6) of one of `room`'s registered cameras. The command reaches the room's agent
    socket after commit; the agent's answer completes the camera's `last_command` (returned here, pending)."""
    camera = Device.objects.select_for_update().get(pk=camera.pk)
    if camera.room_id != room.pk or camera.kind != DeviceKind.CAMERA:
        # A forged id: the camera is not in the room the caller was authorised for.
        raise CorridorError("not_found", _("This room has no such camera."), status=404)
    if action not in PRESET_ACTIONS or preset not in PRESETS:
        raise CorridorError("invalid_command", _("Choose recall or store, and a preset from 1 to 6."))
    if camera.review != DeviceReview.ACCEPTED:
        raise CorridorError("device_not_registered", _("Accept this camera into the registry first."), status=409)
    if not camera.address or not camera.visca_port:
        raise CorridorError(
            "no_visca_address", _("Enter the camera's network address and VISCA port first."), status=409
        )
    agent = room_agent(room=room)
    if agent is None or device_status(agent, now=timezone.now()) in ("offline", "never"):
        raise CorridorError("agent_offline", _("The room agent is offline: it cannot reach the camera."), status=409)
    camera.last_command = {
        "id": secrets.token_hex(6),
        "command": action,
        "preset": preset,
        "by": str(by) if getattr(by, "is_authenticated", False) else "",
        "sent_at": timezone.now().isoformat(),
        "ok": None,
        "outcome": "",
        "message": "",
        "done_at": None,
    }
    camera.save(update_fields=["last_command"])
    frame = {
        "type": "agent.camera",
        "id": camera.last_command["id"],
        "room_id": room.pk,
        "camera_id": camera.pk,
        "action": action,
        "preset": preset,
    }
    transaction.on_commit(lambda: group_send(agent_group(room.pk), frame))
    return dict(camera.last_command)


@dataclass(frozen=True)
class CameraTarget:
    address: str
    port: int


def agent_camera_target(*, room_id: int, camera_id: int) -> CameraTarget | None:
    """Where the agent of room `room_id` may send VISCA for `camera_id`: only a registered camera of its own room."""
    camera = Device.objects.filter(
        pk=camera_id, room_id=room_id, kind=DeviceKind.CAMERA, review=DeviceReview.ACCEPTED
    ).first()
    if camera is None or not camera.address or not camera.visca_port:
        return None
    return CameraTarget(address=camera.address, port=camera.visca_port)


@transaction.atomic
def camera_command_result(*, agent_id: int, result: CameraResultFrame, now: datetime | None = None) -> bool:
    """The agent's report of a camera's answer. Refused (CorridorError) for a camera outside the agent's room;
    returns whether it answered the camera's latest command (an older one's answer is dropped)."""
    room_id = Device.objects.filter(pk=agent_id).values_list("room_id", flat=True).first() or 0
    camera = (
        Device.objects.select_for_update()
        .filter(pk=result["camera_id"], room_id=room_id, kind=DeviceKind.CAMERA)
        .first()
    )
    if camera is None:
        raise CorridorError("forbidden", _("That camera is not in this agent's room."), status=403)
    if camera.last_command.get("id") != result["id"]:
        return False
    camera.last_command = {
        **camera.last_command,
        "ok": result["ok"],
        "outcome": result["outcome"],
        "message": result["message"][:300],
        "error_code": result["error_code"],
        "done_at": (now or timezone.now()).isoformat(),
    }
    camera.save(update_fields=["last_command"])
    return True


def camera_command_refused(*, room_id: int, camera_id: int, command_id: str) -> None:
    """An agent socket refused a camera command (the camera is not its room's, or has no address): say so."""
    camera = Device.objects.filter(pk=camera_id, room_id=room_id, kind=DeviceKind.CAMERA).first()
    if camera is not None and camera.last_command.get("id") == command_id:
        camera.last_command = {
            **camera.last_command,
            "ok": False,
            "outcome": "refused",
            "message": "refused by the room agent's socket",
            "done_at": timezone.now().isoformat(),
        }
        camera.save(update_fields=["last_command"])
