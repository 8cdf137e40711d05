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
    """What the agent should do: stream into `session_id` (the room's live session now) or not. Not requested
    means waiting for a session (or stopped by an operator for this one), which is not a fault."""

    requested: bool
    session_id: int | None


class WelcomeData(TypedDict):
    room: RoomInfo
    device_id: int
    health_interval: int
    stream: StreamState
    microphone_muted: NotRequired[bool]  # send silence instead of the microphone (also on every health ack)


class WelcomeFrame(TypedDict):
    type: Literal["welcome"]
    data: WelcomeData


class CommandFrame(TypedDict):
    """An operator's start or stop, relayed to the agent. Answer with a `command.result` carrying `id`."""

    type: Literal["command"]
    id: str
    command: Command
    session_id: int | None


class StreamFrame(TypedDict):
    """Sent when a session in the agent's room goes live or ends: what the agent should do now."""

    type: Literal["stream"]
    stream: StreamState


class AckFrame(TypedDict):
    type: Literal["ack"]
    ref: NotRequired[str | int]
    stream: NotRequired[StreamState]  # on a health report: the agent reconciles with it
    microphone_muted: NotRequired[bool]  # on a health report: the agent mutes or unmutes to match


class MicrophoneFrame(TypedDict):
    """A moderator or operator muted (or unmuted) the room's microphone: the agent sends silence meanwhile."""

    type: Literal["microphone"]
    muted: bool


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


class CameraFrame(TypedDict):
    """An operator's preset command for one of the room's registered cameras: the agent sends VISCA over IP to
    `address`:`port` and answers with a `camera.result` carrying `id` and `camera_id`. An agent refuses a frame
    whose `room_id` is not its own room's."""

    type: Literal["camera"]
    id: str
    room_id: int
    camera_id: int
    action: Literal["recall", "store"]
    preset: int  # 1–6
    address: str
    port: int


class CameraResultFrame(TypedDict):
    """How the camera answered: `outcome` is acknowledged/completed (ok), or timeout (no acknowledgement in 2 s),
    camera_error (`error_code`: VISCA's), unreachable, or refused (not this agent's room)."""

    type: Literal["camera.result"]
    id: str
    camera_id: int
    ok: bool
    outcome: str
    message: str
    error_code: int | None
