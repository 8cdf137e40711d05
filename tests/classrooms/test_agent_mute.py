"""A room agent muted by its server: silence instead of the microphone while muted (frames keep flowing), its
sound back when unmuted, on the server's word in the welcome, a `microphone` frame or a health ack.

The whole path with real agent processes, the SFU and a browser is in tests/e2e/test_live_media.py.
"""

from __future__ import annotations

import array
import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from av import AudioFrame
from websockets.asyncio.server import ServerConnection, serve

from classrooms.agent.client import RoomAgent
from classrooms.agent.publisher import Endpoint
from classrooms.agent.sources import Meter, MeteredTrack, SourceOptions, ToneMicrophone, source_factory
from tests.support.waiting import wait_until_async


def energy(frame: AudioFrame) -> float:
    samples = array.array("h", bytes(frame.planes[0]))
    return sum(s * s for s in samples) / len(samples)


async def test_a_muted_microphone_sends_silence_and_unmuted_its_sound() -> None:
    meter = Meter()
    track = MeteredTrack(ToneMicrophone(), meter)
    try:
        heard = await track.recv()
        assert isinstance(heard, AudioFrame) and energy(heard) > 1e5
        meter.muted = True
        silent = await track.recv()
        assert isinstance(silent, AudioFrame)
        assert energy(silent) == 0
        # The same shape and timing: the SFU and the recording see no gap.
        assert (silent.samples, silent.sample_rate, silent.format.name, silent.layout.name) == (
            960,
            48_000,
            "s16",
            "mono",
        )
        assert heard.pts is not None and silent.pts == heard.pts + 960
        meter.muted = False
        again = await track.recv()
        assert isinstance(again, AudioFrame) and energy(again) > 1e5
    finally:
        track.stop()


STREAM = {"requested": False, "session_id": None}
WELCOME: dict[str, Any] = {
    "type": "welcome",
    "data": {
        "room": {"id": 1, "name": "Marina Bay Studio", "city": "singapore"},
        "device_id": 3,
        "health_interval": 5,
        "stream": STREAM,
        "microphone_muted": True,
    },
}


@pytest.fixture
async def control_server() -> AsyncIterator[Callable[[Callable[[ServerConnection], Awaitable[None]]], Awaitable[str]]]:
    servers: list[Any] = []

    async def start(handler: Callable[[ServerConnection], Awaitable[None]]) -> str:
        server = await serve(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_the_agent_follows_the_servers_word_on_its_microphone(control_server: Any) -> None:
    """Muted in the welcome (it was muted before the agent restarted), unmuted by a frame, muted again by an ack."""
    steps: list[str] = []
    proceed = asyncio.Event()

    async def handler(connection: ServerConnection) -> None:
        await connection.send(json.dumps(WELCOME))
        await connection.recv()  # the first health report
        steps.append("welcomed")
        await proceed.wait()
        proceed.clear()
        await connection.send(json.dumps({"type": "microphone", "muted": False}))
        steps.append("unmuted")
        await proceed.wait()
        await connection.send(json.dumps({"type": "ack", "stream": STREAM, "microphone_muted": True}))
        steps.append("acked")
        await connection.wait_closed()

    options = SourceOptions()
    agent = RoomAgent(
        endpoint=Endpoint(server=await control_server(handler), token="cra_secret"),
        room="1",
        options=options,
        sources=source_factory(options),
    )
    task = asyncio.ensure_future(agent.run())
    try:
        await wait_until_async(lambda: steps == ["welcomed"], message="the agent's first report")
        assert agent.audio_meter.muted is True
        proceed.set()
        await wait_until_async(lambda: agent.audio_meter.muted is False, message="unmuted by a microphone frame")
        proceed.set()
        await wait_until_async(lambda: agent.audio_meter.muted is True, message="muted again by a health ack")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
