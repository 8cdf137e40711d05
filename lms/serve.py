"""How Corridor's ASGI app is served: uvicorn (with uvloop and the websockets library).

Measured with bench/live_load.py on 2,000 sockets of one session (2 cores, PostgreSQL, Redis):
a trivial broadcast reached every socket in p50 91 ms under uvicorn against 456 ms under daphne,
whose Twisted reactor re-arms epoll for every frame it writes. `make run`, the systemd unit in
infra/, the browser tests and the benchmarks all start the server from this one command.
"""

from __future__ import annotations

import sys


def asgi_server_command(*, host: str = "127.0.0.1", port: int = 8000) -> list[str]:
    # Django has no lifespan handler; "off" saves uvicorn asking and logging that it is unsupported.
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "lms.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--lifespan",
        "off",
    ]
