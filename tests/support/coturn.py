"""A real coturn (Debian's `turnserver`) for tests: TURN REST API credentials, relaying between loopback peers.

Used by tests/streaming (credentials, aiortc relay-only peers) and tests/e2e (a relay-only browser), through the
session fixture `coturn` of tests/conftest.py.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from aioice import stun

from tests.support.processes import stop_processes
from tests.support.system import turnserver_or_skip
from tests.support.waiting import wait_until


class CoturnServer(NamedTuple):
    """What a test needs to hand out credentials: unpacks as `urls, secret = coturn`."""

    urls: list[str]
    secret: str


def free_udp_and_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""

    def udp_port_free_for_tcp_too() -> int:  # 0: not this one
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    return 0
                return port

    return wait_until(udp_port_free_for_tcp_too, timeout=5, interval=0, message="a port free for UDP and TCP")


def stun_answers(port: int, *, timeout: float = 0.2) -> bool:
    """Whether a STUN Binding request to 127.0.0.1:`port` gets a response (coturn is up)."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return stun.parse_message(data).transaction_id == request.transaction_id


@contextmanager
def running_coturn(workdir: Path, *, options: list[str] | None = None) -> Iterator[CoturnServer]:
    """A coturn on 127.0.0.1 with `use-auth-secret`, relaying between loopback peers, working in `workdir`;
    stopped afterwards. Skips the test if coturn is not installed. `options`: more command-line options (peer
    rules and quotas of the production configuration, say).

    Yields (urls, secret): mint credentials with `streaming.turn.turn_credentials(secret=secret, ...)`.
    Relay-only browsers can use it too (loopback peers are allowed, which production must not do).
    """
    turnserver = turnserver_or_skip()
    port = free_udp_and_tcp_port()
    secret = secrets.token_urlsafe(24)
    log_path = workdir / "turnserver.log"
    command = [
        turnserver,
        "-n",  # no configuration file: everything is on the command line
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        "--realm=corridor",
        "--fingerprint",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--no-tcp-relay",
        "--allow-loopback-peers",
        f"--userdb={workdir / 'turndb'}",
        f"--pidfile={workdir / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
        "--verbose",
        *(options or []),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=dict(os.environ))
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"coturn exited:\n{log_path.read_text(errors='replace')}")
            return stun_answers(port)

        wait_until(answers, timeout=10, message=lambda: f"coturn to start:\n{log_path.read_text(errors='replace')}")
        yield CoturnServer(urls=[f"turn:127.0.0.1:{port}?transport=udp"], secret=secret)
    finally:
        stop_processes(process, timeout=5)


PRODUCTION_CONFIG = Path(__file__).resolve().parents[2] / "infra" / "coturn" / "turnserver.conf"


def production_options(name: str) -> list[str]:
    """The values of option `name` in infra/coturn/turnserver.conf (`name=value` lines, comments skipped)."""
    values = []
    for line in PRODUCTION_CONFIG.read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == name and not line.lstrip().startswith("#"):
            values.append(value)
    return values
