"""The room agent's control socket: `/ws/rooms/<room id or slug>/agent/`. Protocol: docs/live-protocol.md.

The agent authenticates with its device token in an `Authorization: Bearer` header (not the URL: servers log URLs).
A wrong or revoked token closes with 4401, a token of another room with 4403. Then the agent reports its health
every few seconds, receives operators' start and stop (sent to the room's channel-layer group by
`services.devices.agent_command_send`), and a `stream` frame whenever a session in its room goes live or ends.
Malformed frames get an error frame; the socket stays open.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.text import slugify
from pydantic import BaseModel, Field, StringConstraints

from classrooms.agent.protocol import (
    COMMANDS,
    HEALTH_INTERVAL_SECONDS,
    CameraFrame,
    CameraResultFrame,
    CommandResultFrame,
    DeviceHealth,
    HealthReport,
    LinkHealth,
    WelcomeFrame,
    bearer_token,
)
from classrooms.services import alerts, devices
from classrooms.services.devices import AgentIdentity
from lms.close_codes import CloseCode
from lms.errors import CorridorError
from lms.socket_frames import FrameRateLimit, MessageSchema, Route, error_frame, handler_for, parse_json_frame, with_ref

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024
MESSAGES_PER_SECOND = 10
MAX_DEVICES = 16


class RoomAgentConsumer(AsyncWebsocketConsumer):
    agent: AgentIdentity | None = None
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        # Accept first, as the session sockets do: the agent gets a close code and a reason, not a bare HTTP 403.
        await self.accept()
        token = bearer_token(self.scope.get("headers", []))
        if token is None:
            await self._refuse(
                CloseCode.UNAUTHENTICATED, "unauthenticated", "Send the room's token (Authorization: Bearer)."
            )
            return
        agent = await database_sync_to_async(devices.agent_authenticate)(token=token)
        if agent is None:
            await self._refuse(CloseCode.UNAUTHENTICATED, "invalid_token", "That device token is unknown or revoked.")
            return
        ref = str(self.scope["url_route"]["kwargs"].get("room", ""))
        if ref not in (str(agent.room_id), slugify(agent.room_name)):
            await self._refuse(CloseCode.FORBIDDEN, "wrong_room", "That token belongs to another room.")
            return
        self.agent = agent
        self.rate_limit = FrameRateLimit(MESSAGES_PER_SECOND)
        self.groups_joined = (devices.agent_group(agent.room_id), devices.token_group(agent.token_id))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await database_sync_to_async(devices.agent_connected)(agent_id=agent.device_id)
        stream = await database_sync_to_async(devices.agent_stream_state)(agent_id=agent.device_id)
        welcome: WelcomeFrame = {
            "type": "welcome",
            "data": {
                "room": {"id": agent.room_id, "name": agent.room_name, "city": agent.city},
                "device_id": agent.device_id,
                "health_interval": HEALTH_INTERVAL_SECONDS,
                "stream": stream,
                "microphone_muted": await database_sync_to_async(devices.agent_microphone_muted)(
                    agent_id=agent.device_id
                ),
            },
        }
        await self._send(dict(welcome))
        logger.info("room agent of room %s connected (token %s)", agent.room_id, agent.token_id)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()
        agent, self.agent = self.agent, None
        if agent is not None:
            await database_sync_to_async(devices.agent_disconnected)(agent_id=agent.device_id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.agent is None:
            return
        ref: Any = None
        try:
            self.rate_limit.spend()
            message = parse_json_frame(
                text_data, max_bytes=MAX_MESSAGE_BYTES, too_large="A message is limited to 16 KB."
            )
            ref = message.get("ref")
            reply = await handler_for(HANDLERS, message)(self, message)
            await self._send(with_ref(reply, ref))
        except CorridorError as error:
            await self._send(error_frame(error.code, str(error.message), ref))
            if error.code == "flooded":
                await self.close(code=CloseCode.FLOODED, reason="flooded")

    async def _health(self, message: Health) -> dict[str, Any]:
        assert self.agent is not None
        report = message.report()
        await database_sync_to_async(devices.agent_health_record)(agent_id=self.agent.device_id, report=report)
        # Link quality for the charts, and the room's alerts at once (its agent is back, its link lossy...).
        await database_sync_to_async(alerts.agent_report_observe)(room_id=self.agent.room_id, report=report)
        # The answer carries what operators want now, so an agent that missed a command catches up.
        stream = await database_sync_to_async(devices.agent_stream_state)(agent_id=self.agent.device_id)
        muted = await database_sync_to_async(devices.agent_microphone_muted)(agent_id=self.agent.device_id)
        return {"type": "ack", "stream": stream, "microphone_muted": muted}

    async def _command_result(self, message: CommandResult) -> dict[str, Any]:
        assert self.agent is not None
        result = message.result()
        await database_sync_to_async(devices.agent_command_result)(agent_id=self.agent.device_id, result=result)
        return {"type": "ack"}

    async def _camera_result(self, message: CameraResult) -> dict[str, Any]:
        assert self.agent is not None
        await database_sync_to_async(devices.camera_command_result)(
            agent_id=self.agent.device_id, result=message.result()
        )
        return {"type": "ack"}

    # Channel-layer messages ----------------------------------------------------------------

    async def agent_command(self, message: dict[str, Any]) -> None:
        if message.get("command") in COMMANDS:
            frame = {
                "type": "command",
                "id": message["id"],
                "command": message["command"],
                "session_id": message.get("session_id"),
            }
            await self._send(frame)

    async def agent_camera(self, message: dict[str, Any]) -> None:
        """An operator's preset command (services.devices.camera_preset_send). Checked again here: only a
        registered camera of this agent's own room, at the address the registry holds, reaches the agent."""
        if self.agent is None:
            return
        camera_id, command_id = message.get("camera_id"), str(message.get("id", ""))
        target = None
        if isinstance(camera_id, int) and message.get("room_id") == self.agent.room_id:
            target = await database_sync_to_async(devices.agent_camera_target)(
                room_id=self.agent.room_id, camera_id=camera_id
            )
        if target is None:
            logger.warning("refused a camera command for camera %s on room %s's socket", camera_id, self.agent.room_id)
            if isinstance(camera_id, int):
                await database_sync_to_async(devices.camera_command_refused)(
                    room_id=self.agent.room_id, camera_id=camera_id, command_id=command_id
                )
            return
        frame: CameraFrame = {
            "type": "camera",
            "id": command_id,
            "room_id": self.agent.room_id,
            "camera_id": int(camera_id),  # type: ignore[arg-type]
            "action": "store" if message.get("action") == "store" else "recall",
            "preset": int(message.get("preset", 0)),
            "address": target.address,
            "port": target.port,
        }
        await self._send(dict(frame))

    async def agent_stream(self, message: dict[str, Any]) -> None:
        """A session in the room went live or ended (services.devices.agents_follow_session_on_commit): the agent
        gets what it should do now, read afresh (an operator may have stopped the room)."""
        if self.agent is None:
            return
        stream = await database_sync_to_async(devices.agent_stream_state)(agent_id=self.agent.device_id)
        await self._send({"type": "stream", "stream": stream})

    async def agent_microphone(self, message: dict[str, Any]) -> None:
        """A moderator or operator muted or unmuted the room (services.devices.room_microphone_set)."""
        await self._send({"type": "microphone", "muted": bool(message.get("muted"))})

    async def device_token_revoked(self, message: dict[str, Any]) -> None:
        if self.agent is not None and message.get("token_id") == self.agent.token_id:
            await self._refuse(CloseCode.UNAUTHENTICATED, "token_revoked", "This device token has been revoked.")

    # Helpers -------------------------------------------------------------------------------

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        await self._send(error_frame(error_code, message, None))
        await self.close(code=code, reason=error_code)


# Validation at the edge: a schema per message type; the handler turns the checked frame into the typed report. ----


class LinkIn(BaseModel):
    model_config = MessageSchema.model_config
    rtt_ms: float | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None


class DeviceIn(BaseModel):
    model_config = MessageSchema.model_config
    kind: Literal["camera", "microphone", "display", "encoder"]
    name: Annotated[str, StringConstraints(max_length=120, pattern=r"\S")]  # not blank
    ok: bool = True
    error: Annotated[str, StringConstraints(max_length=300)] = ""
    fps: float | None = None
    bitrate_kbps: float | None = None
    frames_sent: Annotated[int, Field(ge=0)] | None = None
    level_db: float | None = None


class HealthIn(BaseModel):
    model_config = MessageSchema.model_config
    publishing: bool
    session_id: Annotated[int, Field(gt=0)] | None = None
    cpu_pct: float | None = None
    temperature_c: float | None = None
    link: LinkIn | None = None
    devices: Annotated[list[DeviceIn], Field(max_length=MAX_DEVICES)] | None = None


class Health(MessageSchema):
    """`health`: the agent's report, in `data`. Any fault in it is `invalid_health`."""

    error_codes = {"data": "invalid_health"}
    data: HealthIn

    def report(self) -> HealthReport:
        data, link = self.data, self.data.link or LinkIn()
        return {
            "publishing": data.publishing,
            "session_id": data.session_id,
            "cpu_pct": data.cpu_pct,
            "temperature_c": data.temperature_c,
            "link": LinkHealth(rtt_ms=link.rtt_ms, loss_pct=link.loss_pct, jitter_ms=link.jitter_ms),
            "devices": [
                DeviceHealth(
                    kind=device.kind,
                    name=device.name,
                    ok=device.ok,
                    error=device.error,
                    fps=device.fps,
                    bitrate_kbps=device.bitrate_kbps,
                    frames_sent=device.frames_sent,
                    level_db=device.level_db,
                )
                for device in data.devices or []
            ],
        }


class CommandResult(MessageSchema):
    """`command.result`: how the agent carried out an operator's command (`id` is the command's)."""

    id: str
    ok: bool
    message: str = ""
    publishing: bool = False
    session_id: int | None = None

    def result(self) -> CommandResultFrame:
        return {
            "type": "command.result",
            "id": self.id[:40],
            "ok": self.ok,
            "message": self.message[:500],
            "publishing": self.publishing,
            "session_id": self.session_id,
        }


class CameraResult(MessageSchema):
    """`camera.result`: how a camera answered a preset command (`id` is the command's)."""

    error_codes = {"camera_id": "invalid_id"}
    id: str
    camera_id: int
    ok: bool
    outcome: Literal["acknowledged", "completed", "timeout", "camera_error", "unreachable", "refused"]
    message: str = ""
    error_code: Annotated[int, Field(ge=0, le=255)] | None = None

    def result(self) -> CameraResultFrame:
        return {
            "type": "camera.result",
            "id": self.id[:40],
            "camera_id": self.camera_id,
            "ok": self.ok,
            "outcome": self.outcome,
            "message": self.message[:300],
            "error_code": self.error_code,
        }


# Each message type: the schema its fields are checked against, and its handler.
HANDLERS: dict[str, Route[RoomAgentConsumer, Any, dict[str, Any]]] = {
    "health": Route(Health, RoomAgentConsumer._health),
    "command.result": Route(CommandResult, RoomAgentConsumer._command_result),
    "camera.result": Route(CameraResult, RoomAgentConsumer._camera_result),
}
