"""How Corridor's ASGI app is served: uvicorn (with uvloop and the websockets library).

Measured with bench/live_load.py on 2,000 sockets of one session (2 cores, PostgreSQL, Redis):
a trivial broadcast reached every socket in p50 91 ms under uvicorn against 456 ms under daphne,
whose Twisted reactor re-arms epoll for every frame it writes. `make run`, the systemd unit in
infra/, the browser tests and the benchmarks all start the server from this one command.
"""

from __future__ import annotations

import argparse
import os
import sys

# The largest websocket message the server reads (the media socket's SDP offers, up to 64 KB, are the largest the
# application accepts): anything bigger is closed by uvicorn with 1009 before Django or JSON parsing sees a byte.
WS_MAX_BYTES = 64 * 1024
# No per-message compression: it would let a small frame inflate towards the cap, and compressing each of 2,000
# copies of one broadcast costs more CPU than the bytes it saves on our small JSON frames.
WS_PER_MESSAGE_DEFLATE = False
# Protocol pings every 15 s, answered by any living browser or client without code of its own: a socket silent for
# 30 s (no pong within 15 s of a ping) is closed, for every socket (live, media, device), dead links and suspended
# laptops alike. The live socket also closes after 30 s with no application frame (its heartbeats).
WS_PING_SECONDS = 15.0


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
        "--ws-max-size",
        str(WS_MAX_BYTES),
        "--ws-per-message-deflate",
        str(WS_PER_MESSAGE_DEFLATE).lower(),
        "--ws-ping-interval",
        str(WS_PING_SECONDS),
        "--ws-ping-timeout",
        str(WS_PING_SECONDS),
    ]


def main(argv: list[str] | None = None) -> None:
    """`python -m lms.serve --host H --port P [uvicorn options]`: serve Corridor as every launcher here does. Other
    options go to uvicorn as they are (behind a proxy: `--proxy-headers --forwarded-allow-ips ADDRESSES`)."""
    parser = argparse.ArgumentParser(prog="python -m lms.serve", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    options, uvicorn_options = parser.parse_known_args(argv)
    command = asgi_server_command(host=options.host, port=options.port) + uvicorn_options
    os.execv(command[0], command)  # noqa: S606 (our own fixed command: uvicorn under this interpreter)


if __name__ == "__main__":
    main()
