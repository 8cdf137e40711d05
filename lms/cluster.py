"""`make run-cluster`: Corridor's production topology on one machine, without Docker.

    browsers ──▶ balancer :PORT ──┬──▶ app 1 (uvicorn, lms.serve) ──┐
                 (this process)   └──▶ app 2 (uvicorn, lms.serve) ──┼──▶ PostgreSQL, Redis (layer, cache, broker)
                                                                    ├──▶ SFU node Singapore ◀─link─▶ SFU node Chongqing
                 Celery worker, Celery beat ◀── Redis ─────────────┘    (SFU_MODE=nodes)
                 coturn (if installed), the demo rooms' agents and simulated cameras

Every process is started by its own command, as infra/ deploys it, on DATABASE_URL (PostgreSQL) and REDIS_URL;
this module only starts, watches and stops them, and balances TCP connections (HTTP and websockets alike) over the
two app processes, round robin, skipping one that refuses. A process that dies is started again, so killing one app
process (a fault drill) leaves the site up: its clients reconnect through the balancer to the other.

Standard library only (it starts processes by command, it imports no app).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/corridor"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RESTART_LIMIT = 5  # restarts per process before the cluster gives up on it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stopping: bool = False

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        self.stopping = True
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Balancer:
    """Round robin over the upstreams' TCP ports, as a small reverse proxy does: upstreams that fail their health
    check (/healthz, twice a second) are passed over while another answers, and a request whose upstream refuses it
    or closes without a word (it was killed just then) is sent to the next one, as long as nothing but the request's
    first bytes had gone to the first."""

    upstreams: list[tuple[str, int]]
    _order: itertools.cycle[int] = field(init=False)
    healthy: set[int] = field(init=False)

    def __post_init__(self) -> None:
        self._order = itertools.cycle(range(len(self.upstreams)))
        self.healthy = set(range(len(self.upstreams)))

    def candidates(self) -> list[int]:
        start = next(self._order)
        order = [(start + n) % len(self.upstreams) for n in range(len(self.upstreams))]
        return [i for i in order if i in self.healthy] + [i for i in order if i not in self.healthy]

    async def watch(self) -> None:
        while True:
            for index, (host, port) in enumerate(self.upstreams):
                if await _healthz(host, port):
                    self.healthy.add(index)
                else:
                    self.healthy.discard(index)
            await asyncio.sleep(0.5)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            first = await client_reader.read(65536)
        except OSError:
            first = b""
        if not first:
            client_writer.close()
            return
        for index in self.candidates():
            host, port = self.upstreams[index]
            try:
                upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
                upstream_writer.write(first)
                await upstream_writer.drain()
            except (OSError, TimeoutError):
                self.healthy.discard(index)
                continue
            more = _Counted()
            forward = asyncio.create_task(_pipe(client_reader, upstream_writer, more))
            try:
                answer = await upstream_reader.read(65536)
            except OSError:
                answer = b""
            if not answer and more.bytes == 0 and not forward.done():
                # Closed without answering, and only the request's first bytes went there: try the next one.
                forward.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forward
                upstream_writer.close()
                self.healthy.discard(index)
                continue
            if answer:
                client_writer.write(answer)
                with contextlib.suppress(OSError):
                    await client_writer.drain()
            await asyncio.gather(forward, _pipe(upstream_reader, client_writer, _Counted()), return_exceptions=True)
            return
        client_writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(OSError):
            await client_writer.drain()
        client_writer.close()


@dataclass
class _Counted:
    bytes: int = 0


async def _healthz(host: str, port: int) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status = await asyncio.wait_for(reader.readline(), 2)
        writer.close()
        return status.split(b" ")[1:2] == [b"200"]
    except (OSError, TimeoutError, IndexError):
        return False


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counted: _Counted) -> None:
    try:
        while data := await reader.read(65536):
            counted.bytes += len(data)
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


class Cluster:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.log_dir = Path(options.log_dir).resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self.env = self._base_env()

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("DEBUG", "true")  # a machine of one's own, with the demo: make run's choice
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = DEFAULT_DATABASE_URL
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = DEFAULT_REDIS_URL
        env["SFU_MODE"] = "nodes"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def check_services(self) -> None:
        database, redis = self.env["DATABASE_URL"], self.env["REDIS_URL"]
        if not database.startswith(("postgres://", "postgresql://")):
            sys.exit(f"run-cluster: DATABASE_URL must name PostgreSQL (several processes share it), not {database}")
        if not reachable(database, 5432):
            sys.exit(f"run-cluster: PostgreSQL is not answering at {database}")
        if not reachable(redis, 6379):
            sys.exit(f"run-cluster: Redis is not answering at {redis}")

    def prepare(self) -> None:
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, check=True)
        if self.options.demo:
            command = [python, "manage.py", "load_demo"]
            if self.options.room_tokens:
                command += ["--room-tokens", self.options.room_tokens]
            subprocess.run(command, cwd=ROOT, env=self.env, check=True)

    def add(self, name: str, command: Sequence[str], **env: str) -> Child:
        child = Child(name, list(command), {**self.env, **env}, self.log_dir / f"{name}.log")
        self.children.append(child)
        return child

    def plan(self) -> list[tuple[str, int]]:
        python = sys.executable
        turnserver = shutil.which("turnserver")
        if turnserver:
            turn_port, turn_secret = free_port(), secrets.token_urlsafe(24)
            self.add(
                "coturn",
                [
                    turnserver, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                    f"--listening-port={turn_port}", "--use-auth-secret", f"--static-auth-secret={turn_secret}",
                    "--realm=corridor", "--fingerprint", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp-relay",
                    "--allow-loopback-peers", f"--pidfile={self.log_dir / 'turnserver.pid'}",
                    f"--userdb={self.log_dir / 'turndb'}", "--log-file=stdout", "--simple-log",
                ],
            )  # fmt: skip
            self.env["TURN_URLS"] = f"turn:127.0.0.1:{turn_port}?transport=udp"
            self.env["TURN_SECRET"] = turn_secret
        else:
            print("run-cluster: coturn not found, running without TURN: `make system-packages` adds it")
        for city in ("singapore", "chongqing"):
            self.add(
                f"sfu-{city}",
                [python, "-m", "streaming.node"],
                SFU_NODE_CITY=city,
                SFU_NODE_ID=f"cluster-{city}",
                SFU_NODE_ADDRESS="127.0.0.1",
                SFU_LINK_BIND="127.0.0.1:0",
                SFU_NODE_PROBE_BIND="127.0.0.1:0",
                SFU_ICE_ADDRESSES="any",  # everything is on loopback here
            )
        upstreams = []
        for number in (1, 2):
            port = free_port()
            upstreams.append(("127.0.0.1", port))
            self.add(f"app-{number}", [python, "-m", "lms.serve", "--host", "127.0.0.1", "--port", str(port)])
        self.add("worker", [python, "-m", "celery", "-A", "lms", "worker", "--loglevel", "INFO", "--concurrency", "2"])
        self.add("beat", [python, "-m", "celery", "-A", "lms", "beat", "--loglevel", "INFO",
                          "--schedule", str(self.log_dir / "celerybeat-schedule")])  # fmt: skip
        if self.options.agents and self.options.room_tokens and Path(self.options.room_tokens).exists():
            rooms = json.loads(Path(self.options.room_tokens).read_text())["rooms"]
            server = f"http://127.0.0.1:{self.options.port}"
            for room in rooms:
                self.add(
                    f"agent-{room['slug']}",
                    [python, "-m", "classrooms.agent", "--server", server, "--room", room["slug"],
                     "--token-file", self.options.room_tokens],
                )  # fmt: skip
                if "visca_port" in room:
                    camera = [python, "-m", "classrooms.agent.camera_sim", "--port", str(room["visca_port"])]
                    self.add(f"camera-{room['slug']}", camera)
        return upstreams

    async def run(self) -> None:
        upstreams = self.plan()
        for child in self.children:
            child.start()
        balancer = Balancer(upstreams)
        watching = asyncio.create_task(balancer.watch())
        server = await asyncio.start_server(balancer.handle, self.options.host, self.options.port)
        status = {
            "url": f"http://{self.options.host}:{self.options.port}/",
            "processes": {child.name: child.process.pid for child in self.children if child.process},
            "upstreams": [f"{host}:{port}" for host, port in upstreams],
            "logs": str(self.log_dir),
        }
        print("run-cluster: " + json.dumps(status), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                self.restart_the_dead()
        finally:
            watching.cancel()
            server.close()
            self.stop_all()

    def restart_the_dead(self) -> None:
        for child in self.children:
            if child.alive() or child.stopping or child.process is None:
                continue
            code = child.process.returncode
            if child.restarts >= RESTART_LIMIT:
                print(f"run-cluster: {child.name} keeps exiting ({code}); left stopped:\n{child.tail()}", flush=True)
                child.stopping = True
                continue
            child.restarts += 1
            print(f"run-cluster: {child.name} exited ({code}); starting it again", flush=True)
            child.start()

    def stop_all(self) -> None:
        for child in self.children:
            child.stop()
        deadline = time.monotonic() + 10
        for child in self.children:
            while child.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            child.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lms.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "cluster"))
    parser.add_argument("--room-tokens", default="", help="the demo's room tokens file (agents need it)")
    parser.add_argument("--no-demo", dest="demo", action="store_false", help="migrate only, load no demo")
    parser.add_argument("--no-agents", dest="agents", action="store_false", help="start no room agents")
    options = parser.parse_args(argv)
    cluster = Cluster(options)
    cluster.check_services()
    cluster.prepare()
    asyncio.run(cluster.run())


if __name__ == "__main__":
    main()
