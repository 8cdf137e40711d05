"""Real aiortc peers for the media tests: a synthetic camera, publishers and viewers on the media signaling socket.

The fixtures `media` (open the media socket as a user) and `peers` (closed after each test) are in tests/conftest.py;
`cameras` is in tests/streaming/conftest.py.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from asgiref.sync import sync_to_async
from av import AudioFrame, VideoFrame
from channels.testing import WebsocketCommunicator
from django.conf import settings

from lms.asgi import application
from tests.support.live import LiveClient, session_cookie
from tests.support.waiting import wait_until_async

# Loopback only, no STUN lookups. max-bundle, as browsers do: aiortc's default ("balanced") receives only the first
# audio m-line of a BUNDLE offer with two (two rooms' microphones), its second stays on a transport it stops.
CONFIG = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
WIDTH, HEIGHT = 160, 120
FPS = 30  # SyntheticVideo's rate


class SyntheticVideo(VideoStreamTrack):
    """30 fps frames whose content changes every frame, small enough to encode cheaply."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=WIDTH, height=HEIGHT)
        for index, plane in enumerate(frame.planes):
            plane.update(bytes([(self.count * 7 + index * 60) % 256]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


async def open_media_socket(user: Any, session_id: int) -> tuple[bool, LiveClient]:
    """`user`'s media signaling socket for a session, through the real ASGI stack: (connected, client)."""
    cookie = await sync_to_async(session_cookie)(user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/media/", headers=headers)
    connected, _ = await communicator.connect()
    return connected, LiveClient(communicator)


async def joined(media: Callable[..., Any], user: Any, session_id: int) -> tuple[LiveClient, dict[str, Any]]:
    connected, client = await media(user, session_id)
    assert connected
    welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    return client, welcome["data"]


class Camera:
    """A publishing peer: one synthetic video track, offered as a browser would."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver(SyntheticVideo(), direction="sendonly")

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def publish(self, client: LiveClient) -> dict[str, Any]:
        reply = await client.request({"type": "media.publish", "sdp": await self.offer()})
        if reply["type"] == "media.answer":
            await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        return reply


class Viewer:
    """A subscribing peer that decodes what arrives: video frames counted (in all and per MID), and per audio MID
    the decoded frames and the energy (mean square of the samples) of the latest one."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(CONFIG)
        self.frames = 0
        self.video_frames: dict[str, int] = {}
        self.audio_frames: dict[str, int] = {}
        self.audio_energy: dict[str, float] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self.on_track)

    def on_track(self, track: MediaStreamTrack) -> None:
        mid = next((t.mid or "" for t in self.pc.getTransceivers() if t.receiver.track is track), "")

        async def consume() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()
                    if track.kind == "video":
                        self.frames += 1
                        self.video_frames[mid] = self.video_frames.get(mid, 0) + 1
                    elif isinstance(frame, AudioFrame):
                        self.audio_frames[mid] = self.audio_frames.get(mid, 0) + 1
                        self.audio_energy[mid] = audio_energy(frame)

        self.tasks.append(asyncio.ensure_future(consume()))

    async def subscribe(self, client: LiveClient) -> dict[str, Any]:
        offer = await client.request({"type": "media.subscribe"})
        assert offer["type"] == "media.offer", offer
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        ack = await client.request({"type": "media.answer", "sdp": self.pc.localDescription.sdp})
        assert ack["type"] == "ack", ack
        return offer


def audio_energy(frame: AudioFrame) -> float:
    """The mean square of a decoded frame's samples (aiortc decodes Opus to signed 16-bit): 0 for silence."""
    samples = array.array("h", bytes(frame.planes[0]))
    return sum(s * s for s in samples) / len(samples) if samples else 0.0


async def frames_arrive(viewer: Viewer, count: int, timeout: float = 15) -> None:
    await wait_until_async(
        lambda: viewer.frames >= count, timeout=timeout, message=lambda: f"{count} video frames (only {viewer.frames})"
    )


class CameraAndMicrophone:
    """A publisher as a browser or room agent offers it: synthetic VP8 video and Opus audio (silence, unless
    `audio` is given, e.g. a room agent's ToneMicrophone), send only."""

    def __init__(self, audio: MediaStreamTrack | None = None) -> None:
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver(SyntheticVideo(), direction="sendonly")
        self.pc.addTransceiver(audio or AudioStreamTrack(), direction="sendonly")

    async def publish(self, client: LiveClient) -> dict[str, Any]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await client.request({"type": "media.publish", "sdp": self.pc.localDescription.sdp})
        assert reply["type"] == "media.answer", reply
        await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        return reply
