"""The room agent's control socket: `/ws/rooms/<room id or slug>/agent/`. Protocol: docs/live-protocol.md.

The agent authenticates with its device token in an `Authorization: Bearer` header (not the URL: servers log URLs).
A wrong or revoked token closes with 4401, a token of another room with 4403. Then the agent reports its health
every few seconds and receives operators' start and stop (sent to the room's channel-layer group by
`services.devices.agent_command_send`). Malformed frames get an error frame; the socket stays open.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.text import slugify

from classrooms.agent.protocol import (
    COMMANDS,
    HEALTH_INTERVAL_SECONDS,
    CommandResultFrame,
    DeviceHealth,
    HealthReport,
    LinkHealth,
    WelcomeFrame,
    bearer_token,
)
from classrooms.services import devices
from classrooms.services.devices import AgentIdentity
from lms.close_codes import CloseCode
from lms.errors import CorridorError
from lms.socket_frames import FrameRateLimit, error_frame, handler_for, parse_json_frame, with_ref

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024
MESSAGES_PER_SECOND = 10
MAX_DEVICES = 16
DEVICE_KINDS = frozenset({"camera", "microphone", "display", "encoder"})


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
            message = parse_json_frame(
                text_data, max_bytes=MAX_MESSAGE_BYTES, too_large="A message is limited to 16 KB."
            )
            ref = message.get("ref")
            self.rate_limit.spend()
            reply = await handler_for(HANDLERS, message)(self, message)
            await self._send(with_ref(reply, ref))
        except CorridorError as error:
            await self._send(error_frame(error.code, str(error.message), ref))

    async def _health(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.agent is not None
        report = _health_report(message.get("data"))
        await database_sync_to_async(devices.agent_health_record)(agent_id=self.agent.device_id, report=report)
        # The answer carries what operators want now, so an agent that missed a command catches up.
        stream = await database_sync_to_async(devices.agent_stream_state)(agent_id=self.agent.device_id)
        return {"type": "ack", "stream": stream}

    async def _command_result(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.agent is not None
        result = _command_result(message)
        await database_sync_to_async(devices.agent_command_result)(agent_id=self.agent.device_id, result=result)
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

    async def device_token_revoked(self, message: dict[str, Any]) -> None:
        if self.agent is not None and message.get("token_id") == self.agent.token_id:
            await self._refuse(CloseCode.UNAUTHENTICATED, "token_revoked", "This device token has been revoked.")

    # Helpers -------------------------------------------------------------------------------

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        await self._send(error_frame(error_code, message, None))
        await self.close(code=code, reason=error_code)


HANDLERS: dict[str, Callable[[RoomAgentConsumer, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "health": RoomAgentConsumer._health,
    "command.result": RoomAgentConsumer._command_result,
}


# Validation at the edge: frames become typed reports, or a CorridorError. -----------------------


def _invalid(what: str) -> CorridorError:
    return CorridorError("invalid_health", f"Invalid health report: {what}.")


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(f"`{what}` is a finite number or null")
    return float(value)


def _count(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(f"`{what}` is a whole number or null")
    return value


def _text(value: Any, what: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise _invalid(f"`{what}` is text of at most {limit} characters")
    return value


def _session_id(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise _invalid("`session_id` is a session's id or null")


def _health_report(data: Any) -> HealthReport:
    if not isinstance(data, dict):
        raise _invalid("`data` is an object")
    if not isinstance(data.get("publishing"), bool):
        raise _invalid("`publishing` is true or false")
    link = data.get("link") or {}
    if not isinstance(link, dict):
        raise _invalid("`link` is an object")
    reported = data.get("devices") or []
    if not isinstance(reported, list) or len(reported) > MAX_DEVICES:
        raise _invalid(f"`devices` is a list of at most {MAX_DEVICES}")
    checked_link: LinkHealth = {
        "rtt_ms": _number(link.get("rtt_ms"), "link.rtt_ms"),
        "loss_pct": _number(link.get("loss_pct"), "link.loss_pct"),
        "jitter_ms": _number(link.get("jitter_ms"), "link.jitter_ms"),
    }
    return {
        "publishing": data["publishing"],
        "session_id": _session_id(data.get("session_id")),
        "cpu_pct": _number(data.get("cpu_pct"), "cpu_pct"),
        "temperature_c": _number(data.get("temperature_c"), "temperature_c"),
        "link": checked_link,
        "devices": [_device_health(item) for item in reported],
    }


def _device_health(item: Any) -> DeviceHealth:
    if not isinstance(item, dict) or item.get("kind") not in DEVICE_KINDS:
        raise _invalid("each device has a `kind`: camera, microphone, display or encoder")
    ok = item.get("ok", True)
    if not isinstance(ok, bool):
        raise _invalid("a device's `ok` is true or false")
    return {
        "kind": item["kind"],
        "name": _text(item.get("name"), "name", 120, required=True),
        "ok": ok,
        "error": _text(item.get("error", ""), "error", 300),
        "fps": _number(item.get("fps"), "fps"),
        "bitrate_kbps": _number(item.get("bitrate_kbps"), "bitrate_kbps"),
        "frames_sent": _count(item.get("frames_sent"), "frames_sent"),
        "level_db": _number(item.get("level_db"), "level_db"),
    }


def _command_result(message: dict[str, Any]) -> CommandResultFrame:
    if not isinstance(message.get("id"), str) or not isinstance(message.get("ok"), bool):
        raise CorridorError("invalid_message", "A command result has the command's `id` and `ok` (true or false).")
    publishing = message.get("publishing", False)
    if not isinstance(publishing, bool):
        raise CorridorError("invalid_message", "`publishing` is true or false.")
    text = message.get("message", "")
    return {
        "type": "command.result",
        "id": message["id"][:40],
        "ok": message["ok"],
        "message": text[:500] if isinstance(text, str) else "",
        "publishing": publishing,
        "session_id": message["session_id"] if isinstance(message.get("session_id"), int) else None,
    }
