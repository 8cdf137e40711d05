"""A simulated VISCA-over-IP camera for tests: `classrooms.agent.camera_sim` on its own event loop in a thread, on
a free UDP port of 127.0.0.1, keeping every datagram it receives (so a test checks the exact bytes) and answering as
a camera does, or not at all ("silent"), or with an error ("error")."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from classrooms.agent.camera_sim import CameraState, Mode, SimulatedCamera


class CameraInThread:
    def __init__(self, *, mode: Mode = "normal") -> None:
        self.state = CameraState(mode=mode)
        self.loop = asyncio.new_event_loop()
        self._transport: asyncio.DatagramTransport | None = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def start() -> None:
                transport, _ = await self.loop.create_datagram_endpoint(
                    lambda: SimulatedCamera(self.state), local_addr=("127.0.0.1", 0)
                )
                self._transport = transport
                ready.set()

            self.loop.run_until_complete(start())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="simulated-visca-camera", daemon=True)
        self.thread.start()
        if not ready.wait(5):
            raise RuntimeError("the simulated camera did not start")
        assert self._transport is not None
        self.port: int = self._transport.get_extra_info("sockname")[1]

    @property
    def received(self) -> list[bytes]:
        return list(self.state.received)

    def set_mode(self, mode: Mode) -> None:
        self.state.mode = mode

    def wait_for_datagrams(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.state.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def stop(self) -> None:
        def close() -> None:
            if self._transport is not None:
                self._transport.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(close)
        self.thread.join(5)
        self.loop.close()


@contextmanager
def simulated_camera(*, mode: Mode = "normal") -> Iterator[CameraInThread]:
    camera = CameraInThread(mode=mode)
    try:
        yield camera
    finally:
        camera.stop()


def free_udp_port() -> int:
    """A UDP port nobody listens on now (a camera that is unplugged: the kernel answers "port unreachable")."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
