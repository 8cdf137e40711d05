"""The room agent process's own parts, without Django: its sources, how it authenticates, how it reconnects."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from av import AudioFrame
from websockets.asyncio.server import ServerConnection, serve

from classrooms.agent.client import REFUSED, AgentRefused, RoomAgent, synthetic_defaults, token_from
from classrooms.agent.protocol import bearer_token
from classrooms.agent.publisher import Endpoint, MediaPublisher
from classrooms.agent.sources import (
    TINTS,
    Meter,
    MeteredTrack,
    SourceOptions,
    SyntheticCamera,
    ToneMicrophone,
    source_factory,
)
from lms.close_codes import CloseCode, is_refusal
from tests.support.waiting import wait_until_async

WELCOME = {
    "type": "welcome",
    "data": {
        "room": {"id": 1, "name": "Marina Bay Studio", "city": "singapore"},
        "device_id": 1,
        "health_interval": 1,
        "stream": {"requested": False, "session_id": None},
    },
}


async def test_the_synthetic_picture_moves_and_the_tone_is_heard() -> None:
    camera = SyntheticCamera()
    first, later = camera.picture(0), camera.picture(15)
    assert (first.width, first.height) == (640, 480)
    assert bytes(first.planes[0]) != bytes(later.planes[0])

    meter = Meter()
    tone = MeteredTrack(ToneMicrophone(), meter)
    for _ in range(3):
        frame = await tone.recv()
    assert isinstance(frame, AudioFrame)
    assert (frame.sample_rate, frame.samples) == (48_000, 960)
    assert meter.frames == 3 and meter.level_db is not None and -25 < meter.level_db < -10
    tone.stop()

    sources = source_factory(SourceOptions())(Meter(), Meter())
    assert (sources.video is not None and sources.video.kind, sources.audio is not None and sources.audio.kind) == (
        "video",
        "audio",
    )
    sources.close()


async def test_two_rooms_look_and_sound_different_when_told() -> None:
    red, blue = SyntheticCamera(tint="red").picture(0), SyntheticCamera(tint="blue").picture(0)
    assert (bytes(red.planes[1])[0], bytes(red.planes[2])[0]) == TINTS["red"]
    assert (bytes(blue.planes[1])[0], bytes(blue.planes[2])[0]) == TINTS["blue"]

    def pitch(frames: list[AudioFrame]) -> float:
        samples = np.concatenate([frame.to_ndarray().ravel() for frame in frames]).astype(float)
        spectrum = np.abs(np.fft.rfft(samples))
        return float(np.fft.rfftfreq(len(samples), 1 / 48_000)[int(spectrum.argmax())])

    for hz in (440.0, 660.0):
        tone = ToneMicrophone(frequency_hz=hz)
        frames = [await tone.recv() for _ in range(60)]  # 1.2 s: the pip an octave up, then the tone
        tone.stop()
        assert isinstance(frames[0], AudioFrame)
        assert abs(pitch([f for f in frames[10:] if isinstance(f, AudioFrame)]) - hz) < 5


def test_the_demo_token_file_gives_each_room_its_tint_and_tone(tmp_path: Path) -> None:
    demo = tmp_path / "room-tokens.json"
    entry = {"room": 7, "slug": "jiefangbei-studio", "token": "cra_cq", "tint": "blue", "tone_hz": 660}
    demo.write_text(json.dumps({"rooms": [entry]}))
    found = synthetic_defaults(token_file=str(demo), room="7", tone_hz=None, tint=None)
    assert found == {"tint": "blue", "tone_hz": 660.0}
    # The command line wins; without either, the agent's own defaults.
    assert synthetic_defaults(token_file=str(demo), room="7", tone_hz=500, tint="red") == {
        "tint": "red",
        "tone_hz": 500,
    }
    assert synthetic_defaults(token_file=None, room="7", tone_hz=None, tint=None) == {}


def test_the_token_comes_from_the_flag_a_file_or_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    assert token_from(token="cra_flag", token_file=None, room="1") == "cra_flag"
    demo = tmp_path / "room-tokens.json"
    demo.write_text(json.dumps({"rooms": [{"room": 7, "slug": "jiefangbei-studio", "token": "cra_cq"}]}))
    assert token_from(token=None, token_file=str(demo), room="jiefangbei-studio") == "cra_cq"
    assert token_from(token=None, token_file=str(demo), room="7") == "cra_cq"
    plain = tmp_path / "token"
    plain.write_text("cra_plain\n")
    assert token_from(token=None, token_file=str(plain), room="7") == "cra_plain"
    monkeypatch.setenv("CORRIDOR_ROOM_TOKEN", "cra_env")
    assert token_from(token=None, token_file=None, room="7") == "cra_env"
    assert bearer_token([(b"authorization", b"Bearer cra_x")]) == "cra_x"
    assert bearer_token([(b"authorization", b"Basic abc")]) is None


Handler = Callable[[ServerConnection], Awaitable[None]]


@pytest.fixture
async def control_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[Any] = []

    async def start(handler: Handler) -> str:
        server = await serve(handler, "127.0.0.1", 0)
        servers.append(server)
        port = next(iter(server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def agent_for(url: str) -> RoomAgent:
    options = SourceOptions()
    return RoomAgent(
        endpoint=Endpoint(server=url, token="cra_secret"), room="1", options=options, sources=source_factory(options)
    )


async def test_the_agent_authenticates_in_a_header_reports_health_and_reconnects(control_server: Any) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None  # the handler runs after the handshake
        seen.append(
            {
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "origin": request.headers.get("Origin"),
                "at": time.monotonic(),
            }
        )
        await connection.send(json.dumps(WELCOME))
        report = json.loads(await connection.recv())
        seen[-1]["report"] = report
        await connection.close(code=1011)  # the server goes away; the agent comes back

    url = await control_server(handler)
    agent = agent_for(url)
    task = asyncio.ensure_future(agent.run())
    try:
        await wait_until_async(
            lambda: len(seen) >= 2 and "report" in seen[1], message=lambda: f"the agent to come back and report: {seen}"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen[0]["path"] == "/ws/rooms/1/agent/" and "cra_secret" not in seen[0]["path"]
    assert (seen[0]["authorization"], seen[0]["origin"]) == ("Bearer cra_secret", url)
    report = seen[0]["report"]
    assert report["type"] == "health" and report["data"]["publishing"] is False
    assert [device["kind"] for device in report["data"]["devices"]] == ["camera", "microphone"]
    # Backoff: not at once, but within the first step (1 s, give or take a fifth).
    assert 0.7 < seen[1]["at"] - seen[0]["at"] < 3


async def test_a_refused_token_stops_the_agent(control_server: Any) -> None:
    async def refuse(connection: ServerConnection) -> None:
        await connection.send(json.dumps({"type": "error", "code": "invalid_token", "message": "no"}))
        await connection.close(code=CloseCode.UNAUTHENTICATED, reason="invalid_token")

    agent = agent_for(await control_server(refuse))
    with pytest.raises(AgentRefused):
        await asyncio.wait_for(agent.run(), 10)


async def test_a_server_that_is_not_there_is_retried_with_growing_waits(monkeypatch: Any) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 6:
            raise asyncio.CancelledError

    monkeypatch.setattr("classrooms.agent.client.asyncio.sleep", no_sleep)
    agent = agent_for("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(asyncio.CancelledError):
        await agent.run()
    assert waits[0] < 1.3 and waits[4] > 12 and all(w <= 36 for w in waits)
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))


def test_the_agent_process_imports_no_django() -> None:
    import subprocess
    import sys

    check = "import sys, classrooms.agent.__main__; print(sorted(m for m in sys.modules if m.startswith('django')))"
    output = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_the_agent_stops_on_the_servers_refusals() -> None:
    """The agent (no Django) writes out the codes it stops on: they are the table's."""
    assert {CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN, CloseCode.NOT_FOUND} == REFUSED
    assert all(is_refusal(code) for code in REFUSED)


async def test_a_publication_the_server_drops_ends_at_once_and_another_publishers_departure_is_ignored(
    control_server: Any,
) -> None:
    """When the server gives up on the room's publication (its side of the connection failed), the agent hears it
    on the media socket and ends the publish, so it can publish again now, not when its own side times out."""
    server_side: list[RTCPeerConnection] = []
    other_left, drop = asyncio.Event(), asyncio.Event()

    async def media_server(connection: ServerConnection) -> None:
        welcome = {"type": "welcome", "data": {"peer_id": "room1-0a0b", "can_publish": True, "ice_servers": []}}
        await connection.send(json.dumps(welcome))
        publish = json.loads(await connection.recv())
        pc = RTCPeerConnection()
        server_side.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=publish["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": "media.answer", "sdp": pc.localDescription.sdp, "tracks": [{"kind": "video"}]}
        await connection.send(json.dumps({**answer, "ref": publish["ref"]}))
        left = {"type": "media.publisher_left", "track_ids": [], "reason": "failed"}
        await connection.send(json.dumps({**left, "publisher_id": "room2-ffff"}))  # another room's
        other_left.set()
        await drop.wait()
        await connection.send(json.dumps({**left, "publisher_id": "room1-0a0b"}))
        await connection.wait_closed()

    url = await control_server(media_server)
    options = SourceOptions()
    publisher = MediaPublisher(
        endpoint=Endpoint(server=url, token="cra_secret"),
        session_id=7,
        sources=source_factory(options)(Meter(), Meter()),
    )
    try:
        await publisher.start()
        await asyncio.wait_for(other_left.wait(), 10)
        await asyncio.sleep(0.5)
        assert not publisher.done.is_set(), publisher.reason
        drop.set()
        await asyncio.wait_for(publisher.done.wait(), 3)
        assert publisher.reason == "the server dropped this publication (failed)"
    finally:
        await publisher.close()
        for pc in server_side:
            await pc.close()
