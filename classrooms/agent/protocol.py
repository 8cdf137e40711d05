"""The room agent's control socket, `/ws/rooms/<room>/agent/`: its frames, shared by the server and the agent.

No Django here: the agent process imports this module. Documented in docs/live-protocol.md ("Room agents").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NotRequired, TypedDict

# The agent's credential travels in this header (never in the URL, which servers and proxies log).
AUTHORIZATION_HEADER = "Authorization"
BEARER = "Bearer"
TOKEN_PREFIX = "cra_"  # "Corridor room agent": makes a leaked token recognisable to secret scanners
HEALTH_INTERVAL_SECONDS = 5

Command = Literal["start", "stop"]
COMMANDS: frozenset[str] = frozenset({"start", "stop"})


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header among ASGI `headers`, or None."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin1").strip().partition(" ")
            if scheme.lower() == BEARER.lower() and token.strip():
                return token.strip()
    return None


class RoomInfo(TypedDict):
    id: int
    name: str
    city: str  # "singapore" or "chongqing"


class StreamState(TypedDict):
    """What the operators want of the agent: stream into `session_id` (the room's live session now) or not."""

    requested: bool
    session_id: int | None


class WelcomeData(TypedDict):
    room: RoomInfo
    device_id: int
    health_interval: int
    stream: StreamState


class WelcomeFrame(TypedDict):
    type: Literal["welcome"]
    data: WelcomeData


class CommandFrame(TypedDict):
    """An operator's start or stop, relayed to the agent. Answer with a `command.result` carrying `id`."""

    type: Literal["command"]
    id: str
    command: Command
    session_id: int | None


class AckFrame(TypedDict):
    type: Literal["ack"]
    ref: NotRequired[str | int]
    stream: NotRequired[StreamState]  # on a health report: the agent reconciles with it


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    ref: NotRequired[str | int]


class LinkHealth(TypedDict):
    """The media link from the room to the SFU, from RTCP receiver reports."""

    rtt_ms: float | None
    loss_pct: float | None
    jitter_ms: float | None


class DeviceHealth(TypedDict):
    kind: Literal["camera", "microphone", "display", "encoder"]
    name: str
    ok: bool
    error: str
    fps: float | None  # video: frames the publisher sent per second
    bitrate_kbps: float | None
    frames_sent: int | None
    level_db: float | None  # audio: the level of what the microphone picks up (dBFS)


class HealthReport(TypedDict):
    publishing: bool
    session_id: int | None
    cpu_pct: float | None  # the agent process, share of one core
    temperature_c: float | None  # the host's, where it can be read
    link: LinkHealth
    devices: list[DeviceHealth]


class HealthFrame(TypedDict):
    type: Literal["health"]
    data: HealthReport
    ref: NotRequired[str | int]


class CommandResultFrame(TypedDict):
    type: Literal["command.result"]
    id: str
    ok: bool
    message: str
    publishing: bool
    session_id: int | None
