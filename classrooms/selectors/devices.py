"""Reads about rooms' devices: who may operate a room, its devices' health, a room agent's token and session."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.text import slugify

from classrooms.agent.protocol import HEALTH_INTERVAL_SECONDS
from classrooms.models import (
    Device,
    DeviceHealthSample,
    DeviceKind,
    DeviceReview,
    DeviceToken,
    LiveSession,
    Room,
    SessionState,
)
from classrooms.selectors.attendance import can_keep_roster
from lms.accounts.roles import Role, user_roles

# A device is online while its reports keep coming; after three missed reports it is offline.
ONLINE_WITHIN = timedelta(seconds=3 * HEALTH_INTERVAL_SECONDS)
HISTORY = timedelta(minutes=5)  # what the console's charts show
KEEP_SAMPLES = timedelta(minutes=15)  # services delete older samples
# Below these a publishing camera is "degraded" (the bar for moving video is 20 fps).
MIN_GOOD_FPS = 20.0
MAX_GOOD_LOSS_PCT = 5.0
MAX_GOOD_RTT_MS = 300.0

DeviceStatus = Literal["online", "degraded", "offline", "never"]
KIND_ORDER = [DeviceKind.AGENT, DeviceKind.CAMERA, DeviceKind.MICROPHONE, DeviceKind.ENCODER, DeviceKind.DISPLAY]


def token_hash(token: str) -> str:
    """How a device token is stored: its SHA-256 (the token has 256 random bits, so no salt or stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def can_operate_room(*, room: Room, user: Any) -> bool:
    """The room's operators and administrators may see its devices, start and stop its stream, manage its tokens."""
    return can_keep_roster(room=room, user=user)


def operated_rooms(*, user: Any) -> QuerySet[Room]:
    """The rooms `user` may operate: every room for an administrator, their own rooms for an operator."""
    roles = user_roles(user)
    if Role.ADMINISTRATOR in roles:
        return Room.objects.all()
    if Role.OPERATOR in roles:
        return Room.objects.filter(operators=user)
    return Room.objects.none()


def room_agent(*, room: Room) -> Device | None:
    return Device.objects.filter(room=room, kind=DeviceKind.AGENT).first()


def room_devices(*, room: Room) -> QuerySet[Device]:
    """The room's devices, its agent first, then cameras, microphones, encoders, displays."""
    order = Case(
        *(When(kind=kind, then=Value(index)) for index, kind in enumerate(KIND_ORDER)),
        output_field=IntegerField(),
    )
    return Device.objects.filter(room=room).annotate(kind_order=order).order_by("kind_order", "name")


def room_tokens(*, room: Room) -> QuerySet[DeviceToken]:
    return DeviceToken.objects.filter(device__room=room).select_related("created_by").order_by("-created_at")


def active_token(*, token: str) -> DeviceToken | None:
    """The unrevoked room-agent token `token` is, with its device and room; None for anything else."""
    if not token or len(token) > 200:
        return None
    return (
        DeviceToken.objects.filter(token_hash=token_hash(token), revoked_at__isnull=True, device__kind=DeviceKind.AGENT)
        .select_related("device__room")
        .first()
    )


def token_is_active(*, token_id: int) -> bool:
    return DeviceToken.objects.filter(pk=token_id, revoked_at__isnull=True).exists()


def room_matches(*, room: Room, ref: str) -> bool:
    """Whether `ref` (from the agent's URL: the room's id or its name as a slug) names `room`."""
    return ref == str(room.pk) or ref == slugify(room.name)


def room_by_ref(ref: str) -> Room | None:
    """A room by its id, its name, or its name as a slug (as the agent's command line names it)."""
    ref = ref.strip()
    if ref.isdigit():
        return Room.objects.filter(pk=int(ref)).first()
    by_name = Room.objects.filter(name=ref).first()
    if by_name is not None:
        return by_name
    return next((room for room in Room.objects.all() if slugify(room.name) == ref), None)


def room_live_session(*, room: Room) -> LiveSession | None:
    """The live session held in `room` now (the latest to start, should two overlap)."""
    return LiveSession.objects.filter(rooms=room, state=SessionState.LIVE).order_by("-starts_at", "-pk").first()


StreamPlan = Literal["follows", "waiting", "stopped", "off"]


def agent_stream_plan(*, agent: Device | None, session: LiveSession | None) -> StreamPlan:
    """What the room's agent is meant to do now, as the console says it: publish into the live session
    ("follows"), wait for one ("waiting": healthy, not a fault), or not, because an operator stopped the room for
    this session ("stopped") or its streaming is switched off ("off")."""
    if agent is not None and not agent.stream_requested:
        return "off"
    if session is None:
        return "waiting"
    if agent is not None and agent.stream_stopped_session_id == session.pk:
        return "stopped"
    return "follows"


def session_muted_rooms(*, session: LiveSession) -> list[int]:
    """The ids of the session's rooms whose microphone a moderator or operator muted."""
    return sorted(
        Device.objects.filter(room__in=session.rooms.all(), kind=DeviceKind.AGENT, microphone_muted=True)
        .values_list("room_id", flat=True)
        .distinct()
    )


def session_paused_rooms(*, session: LiveSession) -> list[dict[str, Any]]:
    """The session's rooms an operator stopped for this session ({"id", "name", "city"}): pages show them paused."""
    rooms = Room.objects.filter(
        devices__kind=DeviceKind.AGENT, devices__stream_stopped_session=session, pk__in=session.rooms.all()
    ).distinct()
    return [{"id": room.pk, "name": room.name, "city": room.city} for room in rooms.order_by("pk")]


def agent_may_publish(*, room_id: int, session: LiveSession) -> bool:
    """A room agent publishes only into a live session held in its own room."""
    return session.state == SessionState.LIVE and session.rooms.filter(pk=room_id).exists()


def device_status(device: Device, *, now: datetime) -> DeviceStatus:
    if device.last_seen is None:
        return "never"
    if now - device.last_seen > ONLINE_WITHIN:
        return "offline"
    health = device.health or {}
    if not health.get("ok", True):
        return "degraded"
    fps, loss, rtt = (
        health.get("fps"),
        (health.get("link") or {}).get("loss_pct"),
        (health.get("link") or {}).get("rtt_ms"),
    )
    if device.kind == DeviceKind.CAMERA and device.publishing and isinstance(fps, int | float) and fps < MIN_GOOD_FPS:
        return "degraded"
    if isinstance(loss, int | float) and loss > MAX_GOOD_LOSS_PCT:
        return "degraded"
    if isinstance(rtt, int | float) and rtt > MAX_GOOD_RTT_MS:
        return "degraded"
    return "online"


@dataclass(frozen=True)
class Series:
    """One figure of one device over the last minutes, oldest first."""

    times: list[datetime]
    values: list[float]

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass(frozen=True)
class DeviceView:
    device: Device
    status: DeviceStatus
    fps: Series
    bitrate: Series
    rtt: Series
    loss: Series


def device_history(*, devices: list[Device], now: datetime) -> dict[int, dict[str, Series]]:
    """Each device's fps, bitrate, RTT and loss over HISTORY (one query for all of them)."""
    rows: dict[int, dict[str, tuple[list[datetime], list[float]]]] = {
        device.pk: {name: ([], []) for name in ("fps", "bitrate_kbps", "rtt_ms", "loss_pct")} for device in devices
    }
    samples = DeviceHealthSample.objects.filter(device__in=devices, at__gte=now - HISTORY).order_by("at")
    for sample in samples:
        for name, (times, values) in rows[sample.device_id].items():
            value = getattr(sample, name)
            if value is not None:
                times.append(sample.at)
                values.append(float(value))
    return {
        device_id: {name: Series(times=times, values=values) for name, (times, values) in figures.items()}
        for device_id, figures in rows.items()
    }


def room_device_views(*, room: Room, now: datetime | None = None) -> list[DeviceView]:
    """The room's devices with their status and recent figures, as the operator console shows them."""
    now = now or timezone.now()
    devices = list(room_devices(room=room))
    history = device_history(devices=devices, now=now)
    return [
        DeviceView(
            device=device,
            status=device_status(device, now=now),
            fps=history[device.pk]["fps"],
            bitrate=history[device.pk]["bitrate_kbps"],
            rtt=history[device.pk]["rtt_ms"],
            loss=history[device.pk]["loss_pct"],
        )
        for device in devices
    ]


# The device registry -----------------------------------------------------------------------------------------------

# A camera command the agent has not answered within this long (it waits 2 s for the camera) shows as failed.
CAMERA_ANSWER_WITHIN = timedelta(seconds=6)


def room_device_count(*, room_id: int) -> int:
    """The room's devices that count against its cap (registered or awaiting review; the agent included)."""
    return Device.objects.filter(room_id=room_id).exclude(review=DeviceReview.DISMISSED).count()


def room_registry(*, room: Room) -> QuerySet[Device]:
    """The room's devices an operator may edit or review: its agent first, then cameras, microphones, encoders,
    displays."""
    return room_devices(room=room)


def room_cameras(*, room: Room) -> QuerySet[Device]:
    """The room's registered cameras (presets go to these only)."""
    return room_devices(room=room).filter(kind=DeviceKind.CAMERA, review=DeviceReview.ACCEPTED)


def room_device(*, room: Room, device_id: int) -> Device | None:
    """One of `room`'s devices, its agent included (None for another room's: a forged id finds nothing)."""
    return Device.objects.filter(room=room, pk=device_id).first()


CameraCommandState = Literal["none", "pending", "ok", "failed"]


def camera_command_state(*, camera: Device, now: datetime | None = None) -> tuple[CameraCommandState, str]:
    """The camera's last preset command as the console shows it, with the reason when it failed."""
    command = camera.last_command or {}
    if not command.get("id"):
        return "none", ""
    if command.get("ok") is None:
        sent = datetime.fromisoformat(command["sent_at"])
        if (now or timezone.now()) - sent > CAMERA_ANSWER_WITHIN:
            return "failed", "no answer from the room agent"
        return "pending", ""
    return ("ok" if command["ok"] else "failed"), str(command.get("message", ""))
