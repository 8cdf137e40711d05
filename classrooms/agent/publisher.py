"""One publish of the room's camera and microphone into a live session, as the browser's media.js does it.

The agent opens the session's media socket (`/ws/sessions/<id>/media/`) with its device token, offers sendonly
VP8/Opus from an aiortc RTCPeerConnection in `media.publish` and applies the answer. The socket stays open while
publishing: the server unpublishes a peer whose socket closes. If the socket closes or the connection fails,
`done` is set and the agent publishes again with a fresh connection (aiortc has no ICE restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.stats import RTCOutboundRtpStreamStats, RTCRemoteInboundRtpStreamStats
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from classrooms.agent.protocol import AUTHORIZATION_HEADER, BEARER
from classrooms.agent.sources import Sources

logger = logging.getLogger("classrooms.agent")

REPLY_TIMEOUT = 15.0
VIDEO_CLOCK, AUDIO_CLOCK = 90_000, 48_000


class PublishError(Exception):
    """The server refused (`code` from its error frame or close code) or could not be reached."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom the agent connects: `server` is http(s)://host:port; the socket URLs are derived."""

    server: str
    token: str

    def socket_url(self, path: str) -> str:
        base = self.server.rstrip("/")
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{path}"

    @property
    def origin(self) -> str:
        return self.server.rstrip("/")

    @property
    def headers(self) -> dict[str, str]:
        return {AUTHORIZATION_HEADER: f"{BEARER} {self.token}"}


async def open_socket(endpoint: Endpoint, path: str) -> ClientConnection:
    return await connect(
        endpoint.socket_url(path),
        additional_headers=endpoint.headers,
        origin=endpoint.origin,  # type: ignore[arg-type]  # websockets' Origin is a NewType of str
        open_timeout=10,
        max_size=1024 * 1024,
    )


def _ice_servers(welcome: dict[str, Any]) -> list[RTCIceServer]:
    servers = []
    for entry in welcome.get("ice_servers") or []:
        if isinstance(entry, dict) and entry.get("urls"):
            servers.append(
                RTCIceServer(urls=entry["urls"], username=entry.get("username"), credential=entry.get("credential"))
            )
    return servers


@dataclass
class SendFigures:
    bytes_sent: int = 0
    at: float = 0.0


class MediaPublisher:
    """Publishes `sources` into session `session_id` until `close()`; `done` is set if it stops by itself."""

    def __init__(self, *, endpoint: Endpoint, session_id: int, sources: Sources) -> None:
        self.endpoint = endpoint
        self.session_id = session_id
        self.sources = sources
        self.done = asyncio.Event()
        self.reason = ""
        self.peer_id = ""  # the server's name for this publisher (its welcome)
        self._socket: ClientConnection | None = None
        self._pc: RTCPeerConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._next_ref = 0
        self._last: dict[str, SendFigures] = {}

    async def start(self) -> None:
        """Connect, publish, and return once the server has answered (media then flows as ICE/DTLS complete)."""
        try:
            self._socket = await open_socket(self.endpoint, f"/ws/sessions/{self.session_id}/media/")
            welcome = await self._welcome()
            self.peer_id = str(welcome.get("peer_id") or "")
            self._reader = asyncio.ensure_future(self._read())
            policy = RTCIceTransportPolicy.RELAY if welcome.get("ice_transport_policy") == "relay" else None
            configuration = RTCConfiguration(iceServers=_ice_servers(welcome))
            if policy is not None:  # the deployment sends media through TURN only
                configuration.iceTransportPolicy = policy
            pc = self._pc = RTCPeerConnection(configuration)
            pc.on("connectionstatechange", self._on_connection_state)
            for track in (self.sources.video, self.sources.audio):
                if track is not None:
                    pc.addTransceiver(track, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            answer = await self._request({"type": "media.publish", "sdp": pc.localDescription.sdp})
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        except BaseException:
            await self.close()
            raise
        logger.info("publishing into session %s (%s)", self.session_id, ", ".join(t["kind"] for t in answer["tracks"]))

    async def _welcome(self) -> dict[str, Any]:
        assert self._socket is not None
        try:
            frame = json.loads(await asyncio.wait_for(self._socket.recv(), REPLY_TIMEOUT))
        except ConnectionClosed as closed:
            raise PublishError(str(closed.rcvd.code if closed.rcvd else "closed"), "media socket closed") from None
        if frame.get("type") == "error":
            raise PublishError(str(frame.get("code")), str(frame.get("message")))
        if frame.get("type") != "welcome" or not frame["data"].get("can_publish"):
            raise PublishError("forbidden", "the server does not let this room publish")
        data: dict[str, Any] = frame["data"]
        return data

    async def _request(self, frame: dict[str, Any]) -> dict[str, Any]:
        assert self._socket is not None
        self._next_ref += 1
        ref = f"a{self._next_ref}"
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ref] = reply
        await self._socket.send(json.dumps({**frame, "ref": ref}))
        try:
            answer = await asyncio.wait_for(asyncio.shield(reply), REPLY_TIMEOUT)
        finally:
            self._replies.pop(ref, None)
        if answer.get("type") == "error":
            raise PublishError(str(answer.get("code")), str(answer.get("message")))
        return answer

    async def _read(self) -> None:
        """Route replies to their requests; anything else (media.tracks) is for browsers. Ends with the socket."""
        assert self._socket is not None
        try:
            async for text in self._socket:
                frame = json.loads(text)
                ref = frame.get("ref") if isinstance(frame, dict) else None
                waiter = self._replies.get(ref) if isinstance(ref, str) else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                elif isinstance(frame, dict) and frame.get("type") == "error":
                    logger.warning("media socket: %s: %s", frame.get("code"), frame.get("message"))
                elif self._dropped_by_server(frame):
                    # The server gave up on this publication (its connection failed there): publish again now,
                    # rather than when this side's connection times out half a minute later.
                    self._finish(f"the server dropped this publication ({frame.get('reason')})")
            self._finish("the server closed the media socket")
        except ConnectionClosed as closed:
            self._finish(f"media socket closed ({closed.rcvd.code if closed.rcvd else 'no close frame'})")
        except (ValueError, OSError) as error:
            self._finish(f"media socket failed: {error}")

    def _dropped_by_server(self, frame: Any) -> bool:
        return (
            isinstance(frame, dict)
            and frame.get("type") == "media.publisher_left"
            and bool(self.peer_id)
            and frame.get("publisher_id") == self.peer_id
        )

    def _on_connection_state(self) -> None:
        if self._pc is not None and self._pc.connectionState in ("failed", "closed"):
            self._finish(f"peer connection {self._pc.connectionState}")

    def _finish(self, reason: str) -> None:
        if not self.done.is_set():
            self.reason = reason
            self.done.set()
            for waiter in self._replies.values():
                if not waiter.done():
                    waiter.set_exception(PublishError("closed", reason))

    async def close(self) -> None:
        """Stop publishing: the peer connection, the sources (and their devices), then the socket."""
        self._finish("stopped")
        pc, self._pc = self._pc, None
        if pc is not None:
            await pc.close()
        self.sources.close()
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def figures(self) -> dict[str, Any]:
        """Bitrate per kind since the last call, and the link's RTT, loss and jitter, from aiortc's RTCP stats."""
        out: dict[str, Any] = {"bitrate_kbps": {}, "rtt_ms": None, "loss_pct": None, "jitter_ms": None}
        if self._pc is None:
            return out
        report = await self._pc.getStats()
        now = time.monotonic()
        for stats in report.values():
            if isinstance(stats, RTCOutboundRtpStreamStats):
                last = self._last.get(stats.kind)
                if last is not None and now > last.at:
                    out["bitrate_kbps"][stats.kind] = round(
                        (stats.bytesSent - last.bytes_sent) * 8 / (now - last.at) / 1000, 1
                    )
                self._last[stats.kind] = SendFigures(bytes_sent=stats.bytesSent, at=now)
            elif isinstance(stats, RTCRemoteInboundRtpStreamStats):
                # The video leg's receiver report speaks for the link; audio's when there is no video.
                if out["rtt_ms"] is not None and stats.kind != "video":
                    continue
                if stats.roundTripTime is not None:
                    out["rtt_ms"] = round(stats.roundTripTime * 1000, 1)
                out["loss_pct"] = round(stats.fractionLost / 256 * 100, 2)  # RTCP's 8-bit fixed-point fraction
                clock = VIDEO_CLOCK if stats.kind == "video" else AUDIO_CLOCK
                out["jitter_ms"] = round(stats.jitter / clock * 1000, 1)
        return out
