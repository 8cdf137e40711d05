"""The room agent's control loop: its room's control socket, health reports, start and stop.

The server keeps what the agent should do (stream into the room's live session, or wait) and says so in the
welcome, in each command, in a `stream` frame when a session goes live or ends, and in the answer to each health
report; the agent reconciles with it, so a missed command, a
restarted server or a failed publish all heal within one report interval. The connection to the server is retried
with exponential backoff (1 s doubling to 30 s, with jitter); a refused token (4401/4403) ends the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from classrooms.agent import visca
from classrooms.agent.protocol import (
    HEALTH_INTERVAL_SECONDS,
    CameraResultFrame,
    CommandResultFrame,
    DeviceHealth,
    HealthFrame,
    HealthReport,
)
from classrooms.agent.publisher import Endpoint, MediaPublisher, PublishError, open_socket
from classrooms.agent.sources import Meter, SourceFactory, SourceOptions

logger = logging.getLogger("classrooms.agent")

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
# lms.close_codes.CloseCode's UNAUTHENTICATED, FORBIDDEN and NOT_FOUND, written out: the agent runs without Django,
# and importing `lms` would load it (through Celery). tests/classrooms/test_agent_client.py checks them against it.
REFUSED = frozenset({4401, 4403, 4404})
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class AgentRefused(Exception):
    """The server refused the token (or the room): retrying cannot help."""


@dataclass
class Wanted:
    publish: bool = False
    session_id: int | None = None


@dataclass
class _Rates:
    frames: int = 0
    cpu: float = 0.0
    at: float = field(default_factory=time.monotonic)


class RoomAgent:
    def __init__(self, *, endpoint: Endpoint, room: str, options: SourceOptions, sources: SourceFactory) -> None:
        self.endpoint = endpoint
        self.room = room
        self.options = options
        self.open_sources = sources
        self.wanted = Wanted()
        self.publisher: MediaPublisher | None = None
        self.video_meter, self.audio_meter = Meter(), Meter()
        self.health_interval = float(HEALTH_INTERVAL_SECONDS)
        self.last_error = ""
        self.welcomed = False
        self.room_id: int | None = None  # from the welcome: camera commands for any other room are refused
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._rates = _Rates(cpu=time.process_time())

    # The connection to the server --------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until cancelled (or refused): connect, and reconnect with backoff whenever the server goes away."""
        backoff = BACKOFF_FIRST
        try:
            while True:
                self.welcomed = False
                try:
                    socket = await open_socket(self.endpoint, f"/ws/rooms/{self.room}/agent/")
                    async with socket:
                        await self._serve(socket)
                    reason = "the server closed the control socket"
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else None
                    if code in REFUSED:
                        raise AgentRefused(f"the server refused this agent (close code {code})") from None
                    reason = f"control socket closed ({code})"
                except (OSError, InvalidHandshake, TimeoutError) as error:
                    reason = f"cannot reach {self.endpoint.server} ({error or type(error).__name__})"
                if self.welcomed:
                    backoff = BACKOFF_FIRST
                logger.warning("%s; reconnecting in %.0f s", reason, backoff)
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            await self.shutdown()

    async def _serve(self, socket: ClientConnection) -> None:
        welcome = json.loads(await asyncio.wait_for(socket.recv(), 15))
        if welcome.get("type") != "welcome":
            logger.error("refused: %s: %s", welcome.get("code"), welcome.get("message"))
            await socket.wait_closed()
            if socket.close_code in REFUSED:
                raise AgentRefused(f"the server refused this agent (close code {socket.close_code})")
            return
        data = welcome["data"]
        self.welcomed = True
        self.health_interval = float(data.get("health_interval") or HEALTH_INTERVAL_SECONDS)
        room = data["room"]
        self.room_id = room.get("id")
        logger.info("connected as the agent of %s (%s)", room["name"], room["city"])
        self._want(data["stream"])
        self._mute(data.get("microphone_muted"))
        reporter = asyncio.ensure_future(self._report_health(socket))
        try:
            async for text in socket:
                self._on_frame(socket, text)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    def _on_frame(self, socket: ClientConnection, text: str | bytes) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind in ("ack", "stream") and isinstance(frame.get("stream"), dict):
            # "stream": a session in the room went live or ended; an ack answers a health report.
            self._want(frame["stream"])
        if kind in ("ack", "microphone"):
            self._mute(frame.get("microphone_muted", frame.get("muted")))
        if kind == "command":
            self._spawn(self._command(socket, frame))
        elif kind == "camera":
            self._spawn(self._camera(socket, frame))
        elif kind == "error":
            logger.warning("server: %s: %s", frame.get("code"), frame.get("message"))

    def _want(self, stream: dict[str, Any]) -> None:
        session_id = stream.get("session_id")
        self.wanted = Wanted(
            publish=bool(stream.get("requested")), session_id=session_id if isinstance(session_id, int) else None
        )
        self._spawn(self.reconcile())

    def _mute(self, muted: Any) -> None:
        """Follow the server's word on the room's microphone (absent: an older server, leave it as it is)."""
        if isinstance(muted, bool) and muted != self.audio_meter.muted:
            self.audio_meter.muted = muted
            logger.info("microphone %s", "muted" if muted else "unmuted")

    async def _command(self, socket: ClientConnection, frame: dict[str, Any]) -> None:
        command, session_id = frame.get("command"), frame.get("session_id")
        logger.info("operator command: %s (session %s)", command, session_id)
        if command == "start":
            self.wanted = Wanted(publish=True, session_id=session_id if isinstance(session_id, int) else None)
        elif command == "stop":
            self.wanted = Wanted()
        await self.reconcile()
        if command == "start":
            ok = self.publisher is not None and self.publisher.session_id == self.wanted.session_id
        else:
            ok = self.publisher is None
        result: CommandResultFrame = {
            "type": "command.result",
            "id": str(frame.get("id", "")),
            "ok": ok,
            "message": self._state_text() if ok else self.last_error or "not done",
            "publishing": self.publisher is not None,
            "session_id": self.publisher.session_id if self.publisher else None,
        }
        with contextlib.suppress(ConnectionClosed):
            await socket.send(json.dumps(result))

    async def camera_command(self, frame: dict[str, Any]) -> CameraResultFrame:
        """Carry out a preset command: VISCA over IP to the camera, and its answer (or why there was none)."""
        camera_id = frame.get("camera_id")
        result: CameraResultFrame = {
            "type": "camera.result",
            "id": str(frame.get("id", ""))[:40],
            "camera_id": camera_id if isinstance(camera_id, int) else 0,
            "ok": False,
            "outcome": "refused",
            "message": "",
            "error_code": None,
        }
        action, preset = frame.get("action"), frame.get("preset")
        address, port = frame.get("address"), frame.get("port")
        if self.room_id is None or frame.get("room_id") != self.room_id:
            # Not this room's camera: whatever sent it, this agent moves only its own room's cameras.
            result["message"] = f"refused: the camera is not in this agent's room ({self.room_id})"
        elif (
            action not in visca.PRESET_ACTIONS
            or preset not in visca.PRESETS
            or not isinstance(address, str)
            or not isinstance(port, int)
        ):
            result["message"] = "refused: not a valid preset command"
        else:
            reply = await visca.send_preset(host=address, port=port, action=action, preset=preset)  # type: ignore[arg-type]
            result["ok"], result["outcome"], result["message"] = reply.ok, reply.outcome, reply.message
            result["error_code"] = reply.error_code
        logger.info("camera %s %s preset %s: %s", camera_id, action, preset, result["message"] or result["outcome"])
        return result

    async def _camera(self, socket: ClientConnection, frame: dict[str, Any]) -> None:
        result = await self.camera_command(frame)
        with contextlib.suppress(ConnectionClosed):
            await socket.send(json.dumps(result))

    def _state_text(self) -> str:
        if self.publisher is not None:
            return f"publishing into session {self.publisher.session_id}"
        return "stopped"

    # Publishing --------------------------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make what is published match what is wanted: start, stop, switch session, or replace a failed publish."""
        async with self._lock:
            current = self.publisher
            target = self.wanted.session_id if self.wanted.publish else None
            if current is not None and (current.done.is_set() or current.session_id != target):
                if current.done.is_set():
                    logger.warning("publishing stopped: %s", current.reason)
                self.publisher = None
                await current.close()
                current = None
            if current is None and target is not None:
                publisher = MediaPublisher(
                    endpoint=self.endpoint,
                    session_id=target,
                    sources=self.open_sources(self.video_meter, self.audio_meter),
                )
                try:
                    await publisher.start()
                except (PublishError, OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as error:
                    self.last_error = f"could not publish into session {target}: {error}"
                    logger.warning("%s", self.last_error)
                    return
                self.publisher, self.last_error = publisher, ""
                self._spawn(self._watch(publisher))
            elif target is None:
                self.last_error = "" if not self.wanted.publish else "no live session in this room now"

    async def _watch(self, publisher: MediaPublisher) -> None:
        await publisher.done.wait()
        if self.publisher is publisher:
            await asyncio.sleep(1)  # let a restarting server come back before trying again
            await self.reconcile()

    # Health --------------------------------------------------------------------------------------------------

    async def _report_health(self, socket: ClientConnection) -> None:
        while True:
            report = await self.health()
            frame: HealthFrame = {"type": "health", "data": report}
            # The answer (an ack with what is wanted) reconciles: a failed publish is retried at each report.
            await socket.send(json.dumps(frame))
            await asyncio.sleep(self.health_interval)

    async def health(self) -> HealthReport:
        publisher = self.publisher if self.publisher is not None and not self.publisher.done.is_set() else None
        figures = await publisher.figures() if publisher is not None else {}
        now, cpu = time.monotonic(), time.process_time()
        elapsed = max(1e-3, now - self._rates.at)
        fps = (self.video_meter.frames - self._rates.frames) / elapsed
        cpu_pct = (cpu - self._rates.cpu) / elapsed * 100
        self._rates = _Rates(frames=self.video_meter.frames, cpu=cpu, at=now)
        bitrates: dict[str, float] = figures.get("bitrate_kbps", {})
        error = self.last_error if self.wanted.publish else ""
        devices: list[DeviceHealth] = [
            {
                "kind": "camera",
                "name": self.options.camera_name,
                "ok": not error and not self.video_meter.errors,
                "error": error or "; ".join(self.video_meter.errors[-1:]),
                "fps": round(fps, 1) if publisher is not None else 0.0,
                "bitrate_kbps": bitrates.get("video"),
                "frames_sent": self.video_meter.frames,
                "level_db": None,
            },
            {
                "kind": "microphone",
                "name": self.options.microphone_name,
                "ok": not error and not self.audio_meter.errors,
                "error": error or "; ".join(self.audio_meter.errors[-1:]),
                "fps": None,
                "bitrate_kbps": bitrates.get("audio"),
                "frames_sent": self.audio_meter.frames,
                "level_db": self.audio_meter.level_db if publisher is not None else None,
            },
        ]
        return {
            "publishing": publisher is not None,
            "session_id": publisher.session_id if publisher is not None else None,
            "cpu_pct": round(cpu_pct, 1),
            "temperature_c": _temperature(),
            "link": {
                "rtt_ms": figures.get("rtt_ms"),
                "loss_pct": figures.get("loss_pct"),
                "jitter_ms": figures.get("jitter_ms"),
            },
            "devices": devices,
        }

    # Lifecycle -----------------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("agent task failed", exc_info=task.exception())

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        publisher, self.publisher = self.publisher, None
        if publisher is not None:
            await publisher.close()


def _temperature() -> float | None:
    """The host's temperature where Linux exposes it (a room PC in a cupboard runs hot), else None."""
    try:
        return round(int(THERMAL_ZONE.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def _room_entry(token_file: str, room: str) -> dict[str, Any] | None:
    """The room's entry in the demo's JSON token file (var/room-tokens.json), if the file is that JSON."""
    text = Path(token_file).read_text().strip()
    if not text.startswith("{"):
        return None
    for entry in json.loads(text).get("rooms", []):
        if room in (str(entry.get("room")), entry.get("slug")):
            return dict(entry)
    return None


def synthetic_defaults(*, token_file: str | None, room: str, tone_hz: float | None, tint: str | None) -> dict[str, Any]:
    """The synthetic picture's tint and the tone's pitch: from the command line, else from the room's entry in the
    demo's token file (the demo gives its two rooms different ones), else none."""
    entry = _room_entry(token_file, room) if token_file else None
    found: dict[str, Any] = {}
    tone = tone_hz if tone_hz is not None else (entry or {}).get("tone_hz")
    if tone is not None:
        found["tone_hz"] = float(tone)
    chosen = tint if tint is not None else (entry or {}).get("tint")
    if chosen:
        found["tint"] = str(chosen)
    return found


def token_from(*, token: str | None, token_file: str | None, room: str) -> str:
    """The token from --token, else --token-file (the token alone, or the demo's JSON of every room), else the
    CORRIDOR_ROOM_TOKEN environment variable."""
    if token:
        return token
    if token_file:
        entry = _room_entry(token_file, room)
        if entry is not None:
            return str(entry["token"])
        text = Path(token_file).read_text().strip()
        if not text.startswith("{"):
            return text
        raise SystemExit(f"{token_file} has no token for room {room!r}")
    found = os.environ.get("CORRIDOR_ROOM_TOKEN", "")
    if not found:
        raise SystemExit("no token: pass --token, --token-file or set CORRIDOR_ROOM_TOKEN")
    return found
