"""A process that has imported the app once and forks a ready uvicorn server for each browser test.

Importing Django, Wagtail, Channels and aiortc takes about 3 s of CPU, and most browser tests start a server of
their own (tests.support.browser.AsgiServer): that was a fifth of the serial suite's time. The zygote imports
`lms.asgi` once, under the environment the servers would get, then forks a child per request that serves exactly
as `python -m lms.serve` does (the same uvicorn options, from lms.serve). A server asked for with any other
environment is started the ordinary way.

Run as `python -m tests.support.zygote`: one request per line on stdin (`{"port": P, "log": PATH}`), answered by
one line on stdout (`{"pid": N}` or `{"error": "..."}`). Its children are reaped by the kernel (SIGCHLD ignored),
so a stopped server's pid disappears; the zygote itself ends when its stdin closes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _serve_in_child(application: Any, port: int, log: str) -> None:
    """In the forked child: output to the server's log, then uvicorn exactly as lms.serve starts it."""
    import uvicorn

    from lms import serve

    os.setsid()
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    uvicorn.run(
        application,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        ws_max_size=serve.WS_MAX_BYTES,
        ws_per_message_deflate=serve.WS_PER_MESSAGE_DEFLATE,
        ws_ping_interval=serve.WS_PING_SECONDS,
        ws_ping_timeout=serve.WS_PING_SECONDS,
    )


def main() -> None:
    from django.db import connections
    from django.urls import get_resolver

    from lms.asgi import application

    get_resolver()._populate()  # every server's first request would load the URLconf
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    for line in sys.stdin:
        request = json.loads(line)
        # A fork copies open database connections and threads' locks: there must be neither.
        if threading.active_count() > 1 or any(c.connection is not None for c in connections.all()):
            print(json.dumps({"error": "the zygote has threads or database connections"}), flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                _serve_in_child(application, int(request["port"]), str(request["log"]))
            finally:
                os._exit(0)
        print(json.dumps({"pid": pid}), flush=True)


class ForkedServer:
    """A server forked by the zygote, stopped like a subprocess (tests.support.processes.stop_processes)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0  # its exit status went to the kernel, which reaped it
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, number)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"server {self.pid}", timeout or 0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode


class Zygote:
    """The zygote process for one environment; `fork` returns a starting server, or None if it cannot."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = dict(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.zygote"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def fork(self, *, port: int, log: Path) -> ForkedServer | None:
        if self.process.poll() is not None:
            return None
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"port": port, "log": str(log)}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or '{"error": "the zygote ended"}')
        return ForkedServer(int(answer["pid"])) if "pid" in answer else None

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_zygotes: dict[frozenset[tuple[str, str]], Zygote] = {}


def zygote_for(env: dict[str, str]) -> Zygote:
    """The zygote for this exact environment, started on first use (one per test run, usually)."""
    # pytest names the running test in the environment; the servers do not read it.
    usual = {name: value for name, value in env.items() if name != "PYTEST_CURRENT_TEST"}
    key = frozenset(usual.items())
    if key not in _zygotes:
        _zygotes[key] = Zygote(usual)
    return _zygotes[key]


@atexit.register
def close_zygotes() -> None:
    for zygote in _zygotes.values():
        zygote.close()
    _zygotes.clear()


if __name__ == "__main__":
    main()
