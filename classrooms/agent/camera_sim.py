"""A simulated VISCA-over-IP camera: `python -m classrooms.agent.camera_sim --port N` (`make run` starts one per
demo room; tests use it through tests/support/visca.py).

It keeps every datagram it receives, byte for byte, and answers a well-formed command as a camera does: ACK
`90 41 FF`, then completion `90 51 FF`, both in a VISCA reply header (payload type 0x0111) carrying the command's
sequence number. Modes: "normal"; "silent" (answers nothing, as a camera that is off or unplugged from its
network); "error" (answers `90 61 41 FF`, command not executable). It remembers the preset it was last moved to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import Literal, cast

from classrooms.agent.visca import DEFAULT_PORT, PAYLOAD_COMMAND, PAYLOAD_REPLY, packet, unpack

logger = logging.getLogger("classrooms.agent.camera_sim")

Mode = Literal["normal", "silent", "error"]
MODES = ("normal", "silent", "error")
ACK, COMPLETION, NOT_EXECUTABLE = bytes([0x90, 0x41, 0xFF]), bytes([0x90, 0x51, 0xFF]), bytes([0x90, 0x61, 0x41, 0xFF])
SYNTAX_ERROR = bytes([0x90, 0x60, 0x02, 0xFF])


@dataclass
class CameraState:
    mode: Mode = "normal"
    received: list[bytes] = field(default_factory=list)  # every datagram, as it arrived
    preset: int | None = None  # the preset it was last recalled to (1–6), as the console numbers them
    stored: set[int] = field(default_factory=set)


class SimulatedCamera(asyncio.DatagramProtocol):
    def __init__(self, state: CameraState | None = None, *, completion_delay: float = 0.05) -> None:
        self.state = state or CameraState()
        self.completion_delay = completion_delay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.state.received.append(bytes(data))
        logger.info("received %s from %s", data.hex(" "), addr)
        if self.state.mode == "silent" or self.transport is None:
            return
        found = unpack(data)
        if found is None or found[0] != PAYLOAD_COMMAND:
            return
        _type, sequence, message = found
        if self.state.mode == "error":
            self._reply(NOT_EXECUTABLE, sequence, addr)
            return
        if len(message) != 7 or message[:4] != bytes([0x81, 0x01, 0x04, 0x3F]) or message[4] not in (1, 2):
            self._reply(SYNTAX_ERROR, sequence, addr)
            return
        self._reply(ACK, sequence, addr)
        preset = message[5] + 1
        if message[4] == 0x02:
            self.state.preset = preset
        else:
            self.state.stored.add(preset)
        asyncio.get_running_loop().call_later(self.completion_delay, self._reply, COMPLETION, sequence, addr)

    def _reply(self, message: bytes, sequence: int, addr: tuple[str | int, ...]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(packet(message, sequence=sequence, payload_type=PAYLOAD_REPLY), addr)


async def serve(*, host: str, port: int, state: CameraState) -> None:
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(lambda: SimulatedCamera(state), local_addr=(host, port))
    logger.info("simulated VISCA camera on udp://%s:%d (%s)", host, port, state.mode)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        transport.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classrooms.agent.camera_sim", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--mode", choices=MODES, default="normal")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s camera[{args.port}] %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host=args.host, port=args.port, state=CameraState(mode=args.mode)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
