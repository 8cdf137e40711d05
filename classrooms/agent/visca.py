"""VISCA over IP, the few bytes a room agent needs: recall and store a camera's presets 1–6 and hear its answer.

Sony's VISCA over IP wraps a VISCA message in an 8-byte header in one UDP datagram (the camera listens on 52381):
payload type (2 bytes: 0x0100 a VISCA command, 0x0111 a VISCA reply), payload length (2 bytes), sequence number
(4 bytes), all big-endian. The command to camera 1 is `81 01 04 3F 02 pp FF` (recall preset pp, 0-based) or
`81 01 04 3F 01 pp FF` (store); the camera answers ACK `90 4y FF` (y: its command socket), then completion
`90 5y FF`, or an error `90 6y ee FF`. We report success at the ACK: a preset move can take seconds, and the
operator wants to know the camera took the order; the completion, when it comes within the wait, is noted too.

No Django here (the agent process imports it), and no third-party package: `visca-over-ip` is synchronous and
blocks a thread per command, where the agent is one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
import time
from dataclasses import dataclass
from typing import Literal

DEFAULT_PORT = 52381
PRESETS = range(1, 7)  # what the console offers
ACK_TIMEOUT_SECONDS = 2.0
COMPLETION_GRACE_SECONDS = 0.3  # after the ACK, how long we wait for the completion before reporting

PAYLOAD_COMMAND = 0x0100
PAYLOAD_REPLY = 0x0111
HEADER = struct.Struct(">HHI")

PresetAction = Literal["recall", "store"]
PRESET_ACTIONS: frozenset[str] = frozenset({"recall", "store"})
Outcome = Literal["acknowledged", "completed", "timeout", "camera_error", "unreachable"]

# VISCA's error codes (the `ee` of `90 6y ee FF`), in words an operator can act on.
ERRORS = {
    0x01: "message length error",
    0x02: "syntax error",
    0x03: "command buffer full",
    0x04: "command cancelled",
    0x05: "no socket to cancel",
    0x41: "command not executable now",
}


def preset_message(action: PresetAction, preset: int) -> bytes:
    """The VISCA message (without the IP header) that recalls or stores `preset` (1–6) on camera address 1."""
    if preset not in PRESETS:
        raise ValueError(f"preset {preset} is not 1–6")
    # VISCA numbers presets from 0: the console's "preset 2" is memory 0x01.
    return bytes([0x81, 0x01, 0x04, 0x3F, 0x02 if action == "recall" else 0x01, preset - 1, 0xFF])


def packet(message: bytes, *, sequence: int, payload_type: int = PAYLOAD_COMMAND) -> bytes:
    """`message` in its VISCA-over-IP header."""
    return HEADER.pack(payload_type, len(message), sequence & 0xFFFFFFFF) + message


def unpack(datagram: bytes) -> tuple[int, int, bytes] | None:
    """(payload type, sequence number, message) of a VISCA-over-IP datagram, or None if it is not one."""
    if len(datagram) < HEADER.size + 3:
        return None
    payload_type, length, sequence = HEADER.unpack_from(datagram)
    message = datagram[HEADER.size : HEADER.size + length]
    if len(message) != length or message[-1] != 0xFF:
        return None
    return payload_type, sequence, message


@dataclass(frozen=True)
class CameraReply:
    """How a camera answered one command, as the console shows it."""

    ok: bool
    outcome: Outcome
    message: str
    error_code: int | None = None
    elapsed_ms: float = 0.0


class _Client(asyncio.DatagramProtocol):
    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        self.replies: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        found = unpack(data)
        # Replies to other (older) sequence numbers are late answers to commands we have given up on.
        if found is not None and found[0] == PAYLOAD_REPLY and found[1] == self.sequence:
            self.replies.put_nowait(found[2])

    def error_received(self, exc: Exception) -> None:
        # On a connected UDP socket, an ICMP "port unreachable" arrives here as ConnectionRefusedError.
        self.replies.put_nowait(exc)


_sequences = itertools.count(1)


async def send_preset(
    *, host: str, port: int, action: PresetAction, preset: int, timeout: float = ACK_TIMEOUT_SECONDS
) -> CameraReply:
    """Send one preset command to the camera at host:port and wait (up to `timeout`) for its acknowledgement."""
    started = time.monotonic()
    sequence = next(_sequences)
    loop = asyncio.get_running_loop()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        transport, client = await loop.create_datagram_endpoint(lambda: _Client(sequence), remote_addr=(host, port))
    except OSError as error:
        return CameraReply(False, "unreachable", f"camera unreachable: {error.strerror or error}", None, elapsed())
    try:
        transport.sendto(packet(preset_message(action, preset), sequence=sequence))
        deadline = started + timeout
        acknowledged, ack_at, ack_ms = False, 0.0, 0.0
        while True:
            until = min(deadline, ack_at + COMPLETION_GRACE_SECONDS) if acknowledged else deadline
            wait = until - time.monotonic()
            try:
                reply = await asyncio.wait_for(client.replies.get(), max(wait, 0.0))
            except TimeoutError:
                if acknowledged:
                    return CameraReply(True, "acknowledged", "acknowledged by the camera", None, ack_ms)
                return CameraReply(
                    False, "timeout", f"no acknowledgement from the camera within {timeout:g} s", None, elapsed()
                )
            if isinstance(reply, Exception):
                return CameraReply(False, "unreachable", f"camera unreachable: {reply}", None, elapsed())
            kind = reply[1] & 0xF0 if len(reply) >= 3 else 0
            if kind == 0x40 and not acknowledged:
                acknowledged, ack_at, ack_ms = True, time.monotonic(), elapsed()
            elif kind == 0x50:
                return CameraReply(True, "completed", "acknowledged and completed by the camera", None, elapsed())
            elif kind == 0x60 and len(reply) >= 4:
                code = reply[2]
                words = ERRORS.get(code, "unknown error")
                return CameraReply(False, "camera_error", f"camera error {code:02X}: {words}", code, elapsed())
    finally:
        with contextlib.suppress(Exception):
            transport.close()
