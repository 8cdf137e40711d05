"""VISCA over IP as the room agent speaks it: the exact bytes a camera receives for each preset, its answers
(acknowledged, an error code, nothing within 2 seconds, unreachable), and the agent's refusal of another room's
camera. Real UDP on loopback against the simulated camera (tests/support/visca.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from classrooms.agent import visca
from classrooms.agent.client import RoomAgent
from classrooms.agent.publisher import Endpoint
from classrooms.agent.sources import SourceOptions, source_factory
from tests.support.visca import free_udp_port, simulated_camera


def test_preset_commands_are_the_bytes_the_visca_over_ip_spec_gives() -> None:
    # Payload type 0x0100, length 9, sequence number; then 8x 01 04 3F 02 pp FF (recall) / 01 (store), pp 0-based.
    assert visca.packet(visca.preset_message("recall", 1), sequence=0) == bytes.fromhex(
        "01 00 00 07 00 00 00 00 81 01 04 3F 02 00 FF"
    )
    assert visca.packet(visca.preset_message("store", 6), sequence=0x01020304) == bytes.fromhex(
        "01 00 00 07 01 02 03 04 81 01 04 3F 01 05 FF"
    )
    with pytest.raises(ValueError, match="preset 7"):
        visca.preset_message("recall", 7)
    assert visca.unpack(bytes.fromhex("01 11 00 03 00 00 00 05 90 41 FF")) == (0x0111, 5, bytes.fromhex("90 41 FF"))
    assert visca.unpack(b"\x01\x11\x00\x09junk") is None


async def test_a_recall_reaches_the_camera_byte_for_byte_and_is_acknowledged() -> None:
    with simulated_camera() as camera:
        reply = await visca.send_preset(host="127.0.0.1", port=camera.port, action="recall", preset=2)
        assert reply.ok and reply.outcome in ("acknowledged", "completed"), reply
        [datagram] = camera.received
        assert datagram[:4] == bytes.fromhex("01 00 00 07")  # a VISCA command, 7 bytes of it
        assert datagram[8:] == bytes.fromhex("81 01 04 3F 02 01 FF")  # preset 2 is memory 01
        assert camera.state.preset == 2

        stored = await visca.send_preset(host="127.0.0.1", port=camera.port, action="store", preset=5)
        assert stored.ok
        assert camera.received[1][8:] == bytes.fromhex("81 01 04 3F 01 04 FF")
        # Each command carries its own sequence number.
        assert camera.received[0][4:8] != camera.received[1][4:8]
        assert camera.state.stored == {5}


async def test_a_silent_camera_fails_after_two_seconds_with_timeout() -> None:
    with simulated_camera(mode="silent") as camera:
        started = time.monotonic()
        reply = await visca.send_preset(host="127.0.0.1", port=camera.port, action="recall", preset=3)
        elapsed = time.monotonic() - started
        assert (reply.ok, reply.outcome) == (False, "timeout")
        assert "within 2 s" in reply.message
        assert 1.9 <= elapsed < 3.0
        assert len(camera.received) == 1  # it did hear us


async def test_a_camera_error_is_reported_with_its_code() -> None:
    with simulated_camera(mode="error") as camera:
        reply = await visca.send_preset(host="127.0.0.1", port=camera.port, action="recall", preset=1)
        assert (reply.ok, reply.outcome, reply.error_code) == (False, "camera_error", 0x41)
        assert "41" in reply.message and "not executable" in reply.message


async def test_a_camera_nobody_listens_for_is_unreachable_not_a_timeout() -> None:
    started = time.monotonic()
    reply = await visca.send_preset(host="127.0.0.1", port=free_udp_port(), action="recall", preset=1)
    assert (reply.ok, reply.outcome) == (False, "unreachable")
    assert time.monotonic() - started < 1.5  # the port-unreachable answer comes at once


def agent() -> RoomAgent:
    options = SourceOptions(kind="synthetic")
    found = RoomAgent(
        endpoint=Endpoint(server="http://127.0.0.1:9", token="cra_x"),
        room="1",
        options=options,
        sources=source_factory(options),
    )
    found.room_id = 1
    return found


def frame(port: int, **changes: Any) -> dict[str, Any]:
    return {
        "type": "camera",
        "id": "c1",
        "room_id": 1,
        "camera_id": 7,
        "action": "recall",
        "preset": 2,
        "address": "127.0.0.1",
        "port": port,
    } | changes


async def test_the_agent_moves_its_own_rooms_camera_and_refuses_another_rooms() -> None:
    with simulated_camera() as camera:
        room_agent = agent()
        result = await room_agent.camera_command(frame(camera.port))
        assert (result["id"], result["camera_id"], result["ok"]) == ("c1", 7, True)
        assert camera.received[0][8:] == bytes.fromhex("81 01 04 3F 02 01 FF")

        # A frame for room 2's camera, whatever sent it: refused, and the camera hears nothing.
        refused = await room_agent.camera_command(frame(camera.port, room_id=2, id="c2"))
        assert (refused["ok"], refused["outcome"]) == (False, "refused")
        bad = await room_agent.camera_command(frame(camera.port, preset=9, id="c3"))
        assert (bad["ok"], bad["outcome"]) == (False, "refused")
        await asyncio.sleep(0.2)
        assert len(camera.received) == 1
