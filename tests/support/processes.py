"""Stopping the processes a test started (servers, nodes, agents, coturn): politely, then for good."""

from __future__ import annotations

import subprocess
from typing import Protocol


class Stoppable(Protocol):
    """A subprocess, or a server forked by the zygote (tests.support.zygote.ForkedServer)."""

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


def stop_processes(*processes: Stoppable, timeout: float = 10) -> None:
    """SIGTERM every process still running first (they stop side by side), then wait for each; one that has not
    stopped after `timeout` seconds (a server waiting for its open sockets, say) is killed, so none is left behind."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
