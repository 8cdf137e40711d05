"""Room agents as `make run` starts them: `python -m classrooms.agent` in a process of its own, for browser tests
with real rooms (tests/e2e). Issue the room's token and ask it to stream in another thread (`in_another_thread`):
the agent then publishes into the room's live session as soon as it connects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from classrooms.models import Room
from classrooms.services import devices
from tests.support.browser import ROOT, AsgiServer, in_another_thread
from tests.support.processes import stop_processes


class RoomAgentProcess:
    """One room's agent (synthetic picture and tone), publishing into the room's live session once started."""

    def __init__(
        self, *, server: AsgiServer, room: Room, log: Path, stream: bool = True, options: tuple[str, ...] = ()
    ) -> None:
        issued: list[str] = []

        def prepare() -> None:
            issued.append(devices.device_token_issue(room=room).secret)
            if stream:
                devices.agent_stream_request(room=room, requested=True)

        in_another_thread(prepare)
        self.log_path = log
        self.log = log.open("wb")
        env = {**os.environ, "CORRIDOR_ROOM_TOKEN": issued[0]}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # it is a client: it needs no settings
        self.process = subprocess.Popen(
            [sys.executable, "-m", "classrooms.agent", "--server", server.url, "--room", str(room.pk), *options],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        stop_processes(self.process)
        self.log.close()

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]
