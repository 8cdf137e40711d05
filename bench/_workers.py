"""Worker processes for the media benchmarks: a script runs itself again in another role (`--role NAME`) and talks
to it one JSON object per line, requests on the worker's stdin and replies on its stdout.

The orchestrator side is `Worker`; the worker side reads `await stdin_lines()` and answers with `reply(...)`.
`settle_garbage()`, in every process of a bench once its peers are set up and before it measures, keeps the
collector's full passes over that set-up (hundreds of ms on a loaded machine) out of the measured minute.
Used by bench/sfu.py (publisher, subscribers) and bench/cascade.py (relay, subscribers).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import Any

# Replies can be large (every subscriber's frame log): one line may hold this many bytes.
LINE_LIMIT = 2**27


class Worker:
    """`script --role role *arguments` as a child process; `await start()` returns its first reply (it announces
    itself ready), `await call(message)` sends one request and returns the reply."""

    def __init__(self, script: str | Path, role: str, *arguments: str) -> None:
        self.script = str(script)
        self.role = role
        self.arguments = arguments
        self.process: asyncio.subprocess.Process | None = None
        self.ended = False  # its output reached its end (it exited, or is exiting)

    async def start(self) -> dict[str, Any]:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, self.script, "--role", self.role, *self.arguments,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
        )  # fmt: skip
        return await self.read()

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()
        return await self.read()

    async def read(self) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            self.ended = True
            raise RuntimeError(f"the {self.role} process died")
        result: dict[str, Any] = json.loads(line)
        return result

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        if self.ended:
            # Its output ended: it is exiting by itself; signalling it now would turn a clean exit into a kill.
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
                return
            except TimeoutError:
                pass
        self.process.terminate()
        await self.process.wait()


async def stdin_lines() -> asyncio.StreamReader:
    """The worker's requests, one JSON line each."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def reply(message: dict[str, Any]) -> None:
    """The worker's answer to one request (or its first line: ready)."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def settle_garbage() -> None:
    """Collect once, then freeze what survives (gc.freeze): every peer connection, track and buffer set up so far
    lives to the end of the run, and later collections need not walk it again."""
    gc.collect()
    gc.freeze()
