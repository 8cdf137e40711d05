"""Live-session load benchmark: N websocket clients in one session, on the Redis layer and PostgreSQL.

    .venv/bin/python bench/live_load.py                      # 1,000 clients, one server process
    .venv/bin/python bench/live_load.py --clients 2000       # the goal: fan-out p99 under 500 ms, nothing lost
    .venv/bin/python bench/live_load.py --servers 2          # two server processes sharing Redis

It reads DATABASE_URL and REDIS_URL like the app (PostgreSQL and Redis are required; without them it uses
postgres://postgres@127.0.0.1:5432/corridor_bench_live and redis://127.0.0.1:6379/0), creates and migrates a
throwaway database of its own (never the app's nor the test suite's: `<name>_bench_live_<pid>`), seeds a course,
a live session, its instructor and N enrolled trainees with a signed-in session each, and starts the ASGI server
exactly as production does (uvicorn, lms/serve.py; DEBUG off) on free ports (`--asgi-server daphne` to compare).

The clients live in this process (uvloop + picows, whose framing is compiled: a client per socket in pure
Python took most of a core at 2,000 sockets and its own backlog showed up as fan-out latency; the run reports
this process's event-loop lag so that a reader can tell). They join (connect → welcome frame, at most
--join-concurrency at a time), send a heartbeat every 10 s, and then:

* baseline: the bench publishes --pings trivial frames straight onto the session's group on the channel layer;
  the hub fans them out to every socket with no database work. Latency = received − published.
* Q&A: --questions clients ask one question each, spread over --ask-spread seconds; every client upvotes
  --votes-per-client of the questions it sees (5 by default, spread so each question gets its share; 50 upvotes
  every question: 100,000 votes for 2,000 clients), one vote in flight per socket, at most --send-rate frames/s
  per socket (the server allows 20).
  Fan-out latency = received − the question's `created_at` (the server's write time), per (question, client).

It stops when every client has every question and its last `questions.voted` count for each equals the
number of accepted votes (or after --drain-timeout seconds without progress). Lost = question.created frames
not received (questions × clients − received) + (client, question) pairs whose final count is wrong.
Messages per second = frames received by all clients during the Q&A phase / its wall time.

The session's id and the users' ids are large and pid-derived so that the channel-layer groups ("live-session-<id>",
the control group's user ids) cannot collide with a test run sharing the same Redis.

`join_cpu_ms` is the server processes' CPU time during the join phase per join: unlike joins per second, it does not
depend on what else the machine is running.

Human-readable lines first; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psutil
import uvloop
from picows import WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/corridor_bench_live"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
HEARTBEAT_SECONDS = 10.0
ID_BASE = 100_000_000 + (os.getpid() % 1000) * 100_000


def say(line: str) -> None:
    print(line, flush=True)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest rank: p99 of 100,000 samples is the 99,000th smallest."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raise_open_file_limit() -> int:
    """Every socket is a file descriptor on both sides; the server processes inherit this limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# Database ------------------------------------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    url: str  # the throwaway database's URL
    name: str
    admin: dict[str, Any]  # psycopg connection arguments for the maintenance database

    @classmethod
    def beside(cls, base_url: str) -> BenchDatabase:
        parts = urlsplit(base_url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql", "psql"}:
            raise SystemExit(f"live_load needs PostgreSQL (DATABASE_URL is {parts.scheme}:...)")
        base = unquote(parts.path.lstrip("/")) or "corridor"
        stem = base if "bench" in base else f"{base}_bench_live"
        name = f"{stem}_{os.getpid()}"
        admin = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": unquote(parts.username or "postgres"),
            "dbname": "postgres",
        }
        if parts.password:
            admin["password"] = unquote(parts.password)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
        return cls(url=url, name=name, admin=admin)

    def _execute(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self.admin, autocommit=True) as admin:
            admin.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def drop(self) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)")

    def create_migrated(self) -> str:
        """Create the database and migrate it (after django.setup()); says how, for the bench's first lines.

        Migrating from nothing takes 30-50 s, more than a short run itself. So the first run also keeps a migrated
        copy, `corridor_bench_template_<digest of every installed app's migrations>`, and later runs (of any bench
        here) copy it with CREATE DATABASE … TEMPLATE in about a second; migrate then finds nothing to do. A change
        to any migration changes the digest, and the older copies are dropped when the new one is kept."""
        import psycopg
        from django.core.management import call_command
        from django.db import connections
        from psycopg import sql

        template = f"corridor_bench_template_{_migrations_digest()}"
        with psycopg.connect(**self.admin, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self.name)))
            kept = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
            if kept:
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(self.name), sql.Identifier(template)
                )
            else:
                statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
            admin.execute(statement)
        call_command("migrate", interactive=False, verbosity=0)
        if kept:
            return f"copied the migrated {template} to {self.name}"
        # A template may have no other session connected: close this process's connections and its pool's.
        connections.close_all()
        for connection in connections.all():
            close_pool = getattr(connection, "close_pool", None)  # PostgreSQL's wrapper, with a pool
            if close_pool is not None:
                close_pool()
        with psycopg.connect(**self.admin, autocommit=True) as admin:
            older = admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                ["corridor\\_bench\\_template\\_%", template],
            ).fetchall()
            for (name,) in older:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            building = f"{template}_building_{os.getpid()}"
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(building), sql.Identifier(self.name))
            )
            try:  # the name appears complete or not at all
                admin.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(template))
                )
            except psycopg.errors.DuplicateDatabase:  # another run kept the same one meanwhile
                admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(building)))
        return f"created and migrated {self.name}, and kept a copy as {template} for later runs"


def _migrations_digest() -> str:
    """A digest of every migration file of every installed app (ours and the libraries'): the template's key."""
    import hashlib
    import importlib

    from django.apps import apps

    digest = hashlib.sha256()
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        try:
            module = importlib.import_module(f"{config.name}.migrations")
        except ImportError:
            continue
        for path in sorted(Path(next(iter(module.__path__))).glob("*.py")):
            digest.update(f"{config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Seeded:
    session_id: int
    cookies: list[str]  # one signed-in session per trainee, in client order


def seed(clients: int) -> Seeded:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from classrooms.models import LiveSession, SessionState
    from courses.models import Enrolment
    from lms.accounts.models import User
    from lms.accounts.roles import Role
    from tests import factories

    catalogue = factories.site_catalogue()
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1, title="Live load course")
    password = make_password("a-bench-password")  # one hash for everyone: nobody signs in with it
    with transaction.atomic():
        instructor = User.objects.create(
            id=ID_BASE, email=f"instructor.{ID_BASE}@bench.test", first_name="Bench", password=password
        )
        instructor.groups.add(Group.objects.get(name=Role.INSTRUCTOR.value))
        trainees = User.objects.bulk_create(
            [
                User(
                    id=ID_BASE + 1 + i,
                    email=f"trainee{i}.{ID_BASE}@bench.test",
                    first_name=f"Trainee {i}",
                    last_name="Bench",
                    password=password,
                )
                for i in range(clients)
            ],
            batch_size=1000,
        )
        trainee_group = Group.objects.get(name=Role.TRAINEE.value)
        membership = User.groups.through
        membership.objects.bulk_create(
            [membership(user_id=t.pk, group_id=trainee_group.pk) for t in trainees], batch_size=1000
        )
        Enrolment.objects.bulk_create(
            [Enrolment(user=t, course=course, course_key=course.translation_key) for t in trainees], batch_size=1000
        )
        now = timezone.now()
        session = LiveSession.objects.create(
            id=ID_BASE,
            title="Live load",
            course=course,
            instructor=instructor,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=3),
            state=SessionState.LIVE,
        )
        # What a sign-in stores, without a request per user.
        store = SessionStore()
        # The backend a sign-in records: the first that can load users (the sign-in throttle before it cannot).
        backend = next(path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user"))
        expires = now + timedelta(days=1)
        rows, cookies = [], []
        for trainee in trainees:
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {
                SESSION_KEY: str(trainee.pk),
                BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: trainee.get_session_auth_hash(),
            }
            rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
            cookies.append(key)
        Session.objects.bulk_create(rows, batch_size=1000)
    return Seeded(session_id=session.pk, cookies=cookies)


def database_votes(session_id: int) -> dict[int, tuple[int, int]]:
    """Each question's vote_count and its QuestionVote rows, as the database has them."""
    from django.db.models import Count

    from classrooms.models import Question

    rows = (
        Question.objects.filter(session_id=session_id)
        .annotate(rows=Count("votes"))
        .values_list("id", "vote_count", "rows")
    )
    return {qid: (count, votes) for qid, count, votes in rows}


# Servers -------------------------------------------------------------------------------------------------------


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    ps: psutil.Process
    peak_rss: int = 0

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)

    def cpu_seconds(self) -> float:
        try:
            times = self.ps.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)


ASGI_SERVERS = {
    # What production runs (lms/serve.py, infra/systemd/corridor-web.service).
    "uvicorn": ["-m", "lms.serve", "--host", "127.0.0.1", "--port", "{port}"],
    # For comparison: what Corridor ran before.
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "lms.asgi:application"],
}


def start_join_profile(path: str, server: Server) -> subprocess.Popen[bytes]:
    """py-spy (`pip install py-spy`) sampling the first server process through the join phase: where a join's CPU goes.
    uvicorn runs in the process lms.serve exec'd, so its pid is the one started."""
    beside = Path(sys.executable).with_name("py-spy")
    command = [
        str(beside) if beside.exists() else "py-spy",
        "record",
        "--pid",
        str(server.process.pid),
        "--gil",
        "--rate",
        "250",
        "--format",
        "raw",
    ]
    profiler = subprocess.Popen([*command, "--output", path, "--nonblocking"], stdout=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the first join
    return profiler


def start_servers(kind: str, count: int, env: dict[str, str], log_dir: Path) -> list[Server]:
    servers = []
    for n in range(count):
        port = free_port()
        log = log_dir / f"{kind}-{n}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *(arg.format(port=port) for arg in ASGI_SERVERS[kind])],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        servers.append(Server(port=port, process=process, log=log, ps=psutil.Process(process.pid)))
    deadline = time.monotonic() + 60
    for server in servers:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=1)
                break
            except OSError:
                if server.process.poll() is not None or time.monotonic() > deadline:
                    stop_servers(servers)
                    log_tail = server.log.read_text()[-3000:]
                    raise SystemExit(f"{kind} on :{server.port} did not start:\n{log_tail}") from None
                time.sleep(0.2)
    return servers


def stop_servers(servers: list[Server]) -> list[int]:
    """SIGTERM, then SIGKILL after 15 s; returns the ports of servers that had to be killed."""
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    hung = []
    for server in servers:
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            hung.append(server.port)
            server.process.kill()
            server.process.wait(timeout=5)
    return hung


def server_problems(servers: list[Server]) -> list[str]:
    """Tracebacks and error lines the servers logged (daphne's access log lines are not problems)."""
    lines: list[str] = []
    for server in servers:
        for line in server.log.read_text(errors="replace").splitlines():
            if "Traceback" in line or " ERROR " in line or line.startswith(("ERROR", "CRITICAL")):
                lines.append(f":{server.port} {line.strip()}")
    return lines


# Clients -------------------------------------------------------------------------------------------------------


@dataclass
class Shared:
    """What all clients report into."""

    session_id: int
    clients: int
    send_gap: float
    cookie_name: str
    question_count: int
    votes_per_client: int
    fanout_ms: list[float] = field(default_factory=list)
    ping_ms: list[float] = field(default_factory=list)
    created_at: dict[int, float] = field(default_factory=dict)  # question id -> server write time (epoch s)
    last_arrival: dict[int, float] = field(default_factory=dict)  # question id -> when the last client got it
    accepted: Counter[int] = field(default_factory=Counter)  # question id -> votes the server accepted
    errors: Counter[str] = field(default_factory=Counter)
    join_retries: Counter[str] = field(default_factory=Counter)
    voting_open: bool = True
    votes_not_cast: int = 0  # left queued when the phase ended without converging
    duplicates: int = 0
    pongs: int = 0
    loop_lag_ms: list[float] = field(default_factory=list)  # this process's event-loop lag during Q&A


async def probe_loop_lag(shared: Shared, every: float = 0.01) -> None:
    """How late this process's event loop wakes a 10 ms sleep: frames wait at least that long to be read."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(every)
        shared.loop_lag_ms.append((time.perf_counter() - started - every) * 1000)


class ClientListener(WSListener):
    """picows calls this for every frame, synchronously: no task wake-up or queue per frame."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            if not frame.fin:  # the server sends each event as one frame
                self.client.shared.errors["fragmented frame"] += 1
                return
            self.client.on_text(frame.get_payload_as_utf8_text())
        elif frame.msg_type == WSMsgType.CLOSE:
            close_code = frame.get_close_code()
            self.client.close_code = close_code.value
            transport.send_close(close_code)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.client.on_disconnected()


class Client:
    """One participant. The load generator must not be the bottleneck it measures: 2,000 of these share one
    process, so frames are handled in picows's callback (Cython framing, on uvloop) rather than by a task per
    socket reading from a queue, which cost about 40 µs a frame and made this process, not the server, the
    slowest part at 2,000 clients."""

    def __init__(self, index: int, cookie: str, port: int, shared: Shared) -> None:
        self.index, self.cookie, self.port, self.shared = index, cookie, port, shared
        self.transport: WSTransport | None = None
        self.welcome: asyncio.Future[dict[str, Any]] | None = None
        self.close_code: int | None = None
        self.join_ms = math.nan
        self.frames = 0
        self.seen: set[int] = set()
        self.votes: dict[int, tuple[int, int]] = {}  # question id -> (event id, votes) of the newest event
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.refs = itertools.count(1)
        self.to_vote: asyncio.Queue[int] = asyncio.Queue()
        self.voting = 0  # votes queued or in flight
        self.in_flight = False
        self.next_send = 0.0
        self.closed: str | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def join(self, timeout: float, attempts: int) -> None:
        """Connect and wait for the welcome, retrying with backoff as the browser's client does.

        The join time runs from the first attempt to the welcome: what the person waits.
        """
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        headers = {
            "Origin": f"http://127.0.0.1:{self.port}",
            "Cookie": f"{self.shared.cookie_name}={self.cookie}",
        }
        for attempt in range(1, attempts + 1):
            self.welcome = loop.create_future()
            self.close_code = None
            try:
                self.transport, _listener = await asyncio.wait_for(
                    ws_connect(
                        lambda: ClientListener(self),
                        f"ws://127.0.0.1:{self.port}/ws/sessions/{self.shared.session_id}/",
                        extra_headers=headers,
                        websocket_handshake_timeout=timeout,
                    ),
                    timeout,
                )
                welcome = await asyncio.wait_for(self.welcome, timeout)
            except (OSError, TimeoutError, WSError) as error:
                self.shared.join_retries[type(error).__name__] += 1
                if self.transport is not None:
                    self.transport.disconnect()
                    self.transport = None
                if attempt == attempts:
                    raise
                await asyncio.sleep(random.uniform(0.5, 1.5) * attempt)
                continue
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"client {self.index}: expected welcome, got {welcome}")
            break
        self.join_ms = (time.perf_counter() - started) * 1000
        self.tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._vote())]

    def on_text(self, raw: str) -> None:
        now = time.time()
        if self.welcome is not None and not self.welcome.done():
            self.welcome.set_result(json.loads(raw))
            return
        shared = self.shared
        self.frames += 1
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "questions.voted":
            event_id = frame["event_id"]
            for count in frame["data"]["counts"]:
                newest = self.votes.get(count["id"])
                if newest is None or event_id > newest[0]:
                    self.votes[count["id"]] = (event_id, count["votes"])
        elif kind == "question.created":
            data = frame["data"]
            qid = data["id"]
            if qid in self.seen:
                shared.duplicates += 1
                return
            self.seen.add(qid)
            written = shared.created_at.get(qid)
            if written is None:
                written = shared.created_at[qid] = datetime.fromisoformat(data["created_at"]).timestamp()
            shared.fanout_ms.append((now - written) * 1000)
            shared.last_arrival[qid] = max(now, shared.last_arrival.get(qid, 0.0))
            if qid not in self.votes:
                self.votes[qid] = (frame["event_id"], data["votes"])
            # Each client upvotes --votes-per-client of the questions, spread so that every
            # question gets its share (all of them with --votes-per-client ≥ --questions).
            if (self.index + len(self.seen) - 1) % shared.question_count < shared.votes_per_client:
                self.voting += 1
                self.to_vote.put_nowait(qid)
        elif kind == "bench.ping":
            shared.ping_ms.append((now - frame["data"]["sent_at"]) * 1000)
        elif kind == "pong":
            shared.pongs += 1
        elif "ref" in frame:
            waiter = self.waiting.pop(frame["ref"], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
        elif kind == "error":
            shared.errors[f"unsolicited {frame.get('code')}"] += 1

    def on_disconnected(self) -> None:
        if self.welcome is not None and not self.welcome.done():
            self.welcome.set_exception(ConnectionResetError(f"closed before the welcome ({self.close_code})"))
            return
        if self.closed is None:
            self.closed = "ended" if self.close_code is None else str(self.close_code)
        for waiter in self.waiting.values():
            if not waiter.done():
                waiter.set_result({"type": "error", "code": "connection_closed"})

    async def send(self, frame: dict[str, Any]) -> None:
        """Send, pacing this socket under the server's per-socket rate limit."""
        now = time.monotonic()
        if self.next_send > now:
            await asyncio.sleep(self.next_send - now)
        self.next_send = max(now, self.next_send) + self.shared.send_gap
        if self.transport is None or self.closed is not None:
            raise ConnectionResetError("socket closed")
        self.transport.send(WSMsgType.TEXT, json.dumps(frame).encode())

    async def request(self, frame: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
        ref = next(self.refs)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[ref] = waiter
        try:
            await self.send({**frame, "ref": ref})
            return await asyncio.wait_for(waiter, timeout)
        except (TimeoutError, ConnectionResetError):
            return {"type": "error", "code": "no_reply"}
        finally:
            self.waiting.pop(ref, None)

    async def _heartbeat(self) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_SECONDS))
        with contextlib.suppress(ConnectionResetError):
            while True:
                await self.send({"type": "heartbeat"})
                await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _vote(self) -> None:
        """Upvote each question seen, one vote in flight at a time (as a person clicking would)."""
        while True:
            qid = await self.to_vote.get()
            if self.shared.voting_open:
                self.in_flight = True
                reply = await self.request({"type": "question.vote", "question_id": qid})
                self.in_flight = False
                if reply.get("type") == "ack":
                    self.shared.accepted[qid] += 1
                else:
                    self.shared.errors[f"vote {reply.get('code')}"] += 1
            else:
                self.shared.votes_not_cast += 1
            self.voting -= 1

    async def ask(self, text: str) -> int | None:
        reply = await self.request({"type": "question.ask", "text": text})
        if reply.get("type") != "ack":
            self.shared.errors[f"ask {reply.get('code')}"] += 1
            return None
        return int(reply["id"])

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.transport is not None and self.closed is None:
            self.closed = "ended"
            self.transport.send_close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.transport.wait_disconnected(), 5)


# The run -------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    joined: int = 0
    join_s: float = 0.0
    # Server CPU (all processes) during the join phase per join: what a join costs, whatever else the machine runs.
    join_cpu_ms: float = 0.0
    join_errors: Counter[str] = field(default_factory=Counter)
    questions: list[int] = field(default_factory=list)
    broadcast_s: float = 0.0
    frames: int = 0
    converged: bool = False
    server_cpu_pct: float = 0.0
    client_cpu_pct: float = 0.0
    in_db: dict[int, tuple[int, int]] = field(default_factory=dict)  # question id -> (vote_count, vote rows)


async def monitor(servers: list[Server]) -> None:
    while True:
        for server in servers:
            server.sample()
        await asyncio.sleep(0.5)


async def baseline_pings(clients: list[Client], shared: Shared, count: int) -> None:
    """Trivial frames published straight onto the session's group: the hub's fan-out alone, no database."""
    from channels.layers import get_channel_layer

    from classrooms.fanout import session_group

    layer = get_channel_layer()
    assert layer is not None
    expected = count * sum(1 for c in clients if c.closed is None)
    for n in range(count):
        text = json.dumps({"type": "bench.ping", "event_id": 0, "data": {"n": n, "sent_at": time.time()}})
        await layer.group_send(session_group(shared.session_id), {"type": "live.event", "text": text})
        await asyncio.sleep(0.25)
    deadline = time.monotonic() + 30
    while len(shared.ping_ms) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def votes_in_database(session_id: int) -> dict[int, tuple[int, int]]:
    from django.db import connection

    try:
        return database_votes(session_id)
    finally:
        connection.close()


async def run_clients(
    args: argparse.Namespace, seeded: Seeded, servers: list[Server]
) -> tuple[list[Client], Shared, Outcome]:
    from asgiref.sync import sync_to_async
    from django.conf import settings

    shared = Shared(
        session_id=seeded.session_id,
        clients=args.clients,
        send_gap=1.0 / args.send_rate,
        cookie_name=settings.SESSION_COOKIE_NAME,
        question_count=args.questions,
        votes_per_client=args.votes_per_client,
    )
    clients = [Client(i, cookie, servers[i % len(servers)].port, shared) for i, cookie in enumerate(seeded.cookies)]
    outcome = Outcome()
    sampler = asyncio.create_task(monitor(servers))
    me = psutil.Process()

    # Join ----------------------------------------------------------------------------------------------------
    gate = asyncio.Semaphore(args.join_concurrency)

    async def join(client: Client) -> None:
        async with gate:
            try:
                await client.join(args.join_timeout, args.join_attempts)
            except (OSError, TimeoutError, WSError, RuntimeError) as error:
                client.closed = "join failed"
                outcome.join_errors[type(error).__name__] += 1

    profiler = start_join_profile(args.profile_joins, servers[0]) if args.profile_joins else None
    join_cpu_before = sum(s.cpu_seconds() for s in servers)
    started = time.perf_counter()
    await asyncio.gather(*(join(c) for c in clients))
    outcome.join_s = time.perf_counter() - started
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
        say(f"join profile (py-spy, raw stacks of the thread holding the GIL) in {args.profile_joins}")
    live = [c for c in clients if c.closed is None]
    outcome.joined = len(live)
    if outcome.joined:
        outcome.join_cpu_ms = (sum(s.cpu_seconds() for s in servers) - join_cpu_before) / outcome.joined * 1000
    retried = f"; retried {dict(shared.join_retries)}" if shared.join_retries else ""
    failed = f"; gave up {dict(outcome.join_errors)}" if outcome.join_errors else ""
    say(
        f"joined {outcome.joined:,} of {len(clients):,} clients in {outcome.join_s:.1f} s "
        f"({args.join_concurrency} at a time, {outcome.joined / outcome.join_s:.0f}/s; "
        f"server CPU {outcome.join_cpu_ms:.1f} ms per join){retried}{failed}"
    )
    await asyncio.sleep(1.0)

    # Baseline: a trivial broadcast -----------------------------------------------------------------------------
    await baseline_pings(live, shared, args.pings)
    say(
        f"baseline: {args.pings} trivial broadcasts → {len(shared.ping_ms):,} deliveries, "
        f"p50 {percentile(shared.ping_ms, 0.5):.1f} ms, p99 {percentile(shared.ping_ms, 0.99):.1f} ms"
    )

    # Q&A: ask, everyone upvotes ---------------------------------------------------------------------------------
    frames_before = sum(c.frames for c in clients)
    cpu_before = [s.cpu_seconds() for s in servers]
    me_before = me.cpu_times()
    lag_probe = asyncio.create_task(probe_loop_lag(shared))
    started = time.perf_counter()
    askers = [live[(k * len(live)) // args.questions] for k in range(args.questions)] if live else []

    async def ask(k: int, asker: Client) -> None:
        await asyncio.sleep(k * args.ask_spread / max(1, args.questions))
        qid = await asker.ask(f"Question {k + 1} of {args.questions}: can everyone in both rooms see this?")
        if qid is not None:
            outcome.questions.append(qid)

    asking = asyncio.gather(*(ask(k, a) for k, a in enumerate(askers)))

    def settled() -> bool:
        if not asking.done():
            return False
        for client in clients:
            if client.closed is not None:  # gone: what it missed is counted as lost
                continue
            if client.voting or len(client.seen) < len(outcome.questions):
                return False
            for qid in outcome.questions:
                if client.votes.get(qid, (0, -1))[1] != shared.accepted[qid]:
                    return False
        return True

    phase_started = last_progress = reported = time.monotonic()
    last_frames = frames_before
    while True:
        await asyncio.sleep(0.1)
        if settled():
            outcome.converged = True
            break
        frames = sum(c.frames for c in clients)
        now = time.monotonic()
        if frames != last_frames or not asking.done():
            last_progress, last_frames = now, frames
        if now - last_progress > args.drain_timeout or now - phase_started > args.timeout:
            break
        if now - reported >= 10:
            reported = now
            votes = sum(shared.accepted.values())
            say(
                f"  … {now - phase_started:.0f} s: {len(shared.fanout_ms):,} question deliveries, "
                f"{votes:,} votes accepted, {frames - frames_before:,} frames"
            )
    outcome.broadcast_s = time.perf_counter() - started
    lag_probe.cancel()
    outcome.frames = sum(c.frames for c in clients) - frames_before
    outcome.server_cpu_pct = sum(
        (s.cpu_seconds() - before) / outcome.broadcast_s * 100 for s, before in zip(servers, cpu_before, strict=True)
    )
    me_after = me.cpu_times()
    outcome.client_cpu_pct = (
        (me_after.user + me_after.system - me_before.user - me_before.system) / outcome.broadcast_s * 100
    )
    if not asking.done():
        asking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asking

    # Without convergence (a time limit): cast no more votes, let those in flight land, then every client's
    # last count must still match the database's.
    shared.voting_open = False
    if not outcome.converged:
        say("  stopped voting; waiting for the votes in flight and the last counts")
        await wait_until(lambda: not any(c.in_flight for c in clients if c.closed is None), 120)
        await asyncio.sleep(1.0)
    outcome.in_db = await sync_to_async(votes_in_database, thread_sensitive=False)(seeded.session_id)

    def views_match() -> bool:
        return all(
            c.votes.get(qid, (0, -1))[1] == outcome.in_db.get(qid, (0, -2))[0]
            for c in clients
            if c.closed is None
            for qid in c.seen
        )

    if not outcome.converged:
        await wait_until(views_match, 15)
    sampler.cancel()
    for server in servers:
        server.sample()
    gate = asyncio.Semaphore(200)

    async def close(client: Client) -> None:
        async with gate:
            await client.close()

    await asyncio.gather(*(close(c) for c in clients))
    return clients, shared, outcome


def run(args: argparse.Namespace, database: BenchDatabase, redis_url: str) -> dict[str, Any]:
    from django.db import connections

    started = time.perf_counter()
    seeded = seed(args.clients)
    say(
        f"seeded a course, a live session, 1 instructor and {args.clients:,} signed-in trainees in "
        f"{time.perf_counter() - started:.1f} s"
    )
    server_db = connections["default"].settings_dict
    connections.close_all()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lms.settings",
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, as behind the TLS proxy
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
    }
    log_dir = Path(tempfile.mkdtemp(prefix="corridor-live-load-"))
    servers = start_servers(args.asgi_server, args.servers, env, log_dir)
    say(
        f"{args.asgi_server} × {len(servers)} on ports {', '.join(str(s.port) for s in servers)} (logs in {log_dir}); "
        f"CONN_MAX_AGE={server_db.get('CONN_MAX_AGE', 0)}"
    )
    try:
        # uvloop, as the server runs: the clients' own event loop must not be the bottleneck.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            clients, shared, outcome = runner.run(run_clients(args, seeded, servers))
    finally:
        hung = stop_servers(servers)
    connections.close_all()

    questions = outcome.questions
    in_db = outcome.in_db
    expected = args.questions * args.clients
    received = len(shared.fanout_ms)
    missing = expected - received
    # Counted once: a client that never saw a question is already among the missing.
    wrong_counts = sum(
        1 for c in clients for qid in c.seen if c.votes.get(qid, (0, -1))[1] != in_db.get(qid, (0, -2))[0]
    )
    db_mismatch = [qid for qid in questions if in_db.get(qid, (0, 0))[0] != in_db.get(qid, (0, 0))[1]]
    lost = missing + wrong_counts
    never_joined = args.clients - outcome.joined
    lost_in_joined = missing - never_joined * len(questions) + wrong_counts
    problems = server_problems(servers)
    closed_early = Counter(c.closed for c in clients if c.closed not in (None, "join failed", "ended"))
    per_question_all = [
        (shared.last_arrival[qid] - shared.created_at[qid]) * 1000 for qid in questions if qid in shared.last_arrival
    ]
    votes = sum(shared.accepted.values())
    intended = min(len(questions), args.votes_per_client) * args.clients

    fan50, fan99 = percentile(shared.fanout_ms, 0.5), percentile(shared.fanout_ms, 0.99)
    base50, base99 = percentile(shared.ping_ms, 0.5), percentile(shared.ping_ms, 0.99)
    join_ms = [c.join_ms for c in clients if not math.isnan(c.join_ms)]
    rss_mb = sum(s.peak_rss for s in servers) / 2**20
    messages_per_s = outcome.frames / outcome.broadcast_s

    say(
        f"Q&A: {len(questions)} questions, {votes:,} of {intended:,} votes accepted in {outcome.broadcast_s:.1f} s "
        f"({votes / outcome.broadcast_s:.0f}/s; {'converged' if outcome.converged else 'did NOT converge'}); "
        f"errors {dict(shared.errors) or 'none'}"
    )
    say(
        f"join (connect → welcome): p50 {percentile(join_ms, 0.5):.1f} ms, p95 {percentile(join_ms, 0.95):.1f} ms, "
        f"max {max(join_ms, default=math.nan):.1f} ms"
    )
    say(
        f"fan-out (written → received), {received:,} of {expected:,} deliveries: p50 {fan50:.1f} ms, "
        f"p99 {fan99:.1f} ms, max {max(shared.fanout_ms, default=math.nan):.1f} ms; "
        f"× baseline: p50 {fan50 / base50:.1f}, p99 {fan99 / base99:.1f}"
    )
    say(
        f"a question reached every client: p50 {percentile(per_question_all, 0.5):.1f} ms, "
        f"max {max(per_question_all, default=math.nan):.1f} ms after it was written"
    )
    say(
        f"frames received: {outcome.frames:,} in {outcome.broadcast_s:.1f} s = {messages_per_s:,.0f}/s; "
        f"pongs {shared.pongs:,}; duplicates {shared.duplicates}"
    )
    say(
        f"server CPU {outcome.server_cpu_pct:.0f}% (sum over {len(servers)} process(es); 100% = one core), "
        f"peak RSS {rss_mb:.0f} MB; client process CPU {outcome.client_cpu_pct:.0f}%, its event loop late by "
        f"p50 {percentile(shared.loop_lag_ms, 0.5):.1f} / p99 {percentile(shared.loop_lag_ms, 0.99):.1f} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    say(
        f"lost: {missing:,} question.created not received ({never_joined * len(questions):,} of them by the "
        f"{never_joined:,} clients that never joined) + {wrong_counts:,} (client, question) final vote counts "
        f"≠ database; database vote_count ≠ vote rows for {len(db_mismatch)} questions; "
        f"sockets closed by the server {dict(closed_early) or 'none'}"
    )
    if problems:
        say(f"server logged {len(problems)} error line(s), first: {problems[0]}")
    if hung:
        say(f"{args.asgi_server} did not exit within 15 s of SIGTERM (killed): ports {hung}")

    def ratio(value: float, base: float) -> float | None:
        return round(value / base, 1) if base and not math.isnan(value) and not math.isnan(base) else None

    return {
        "clients": args.clients,
        "join_p50_ms": ms(percentile(join_ms, 0.5)),
        "join_p95_ms": ms(percentile(join_ms, 0.95)),
        # Joins completed per second of the join phase, per server process (the clients all join at once, at most
        # --join-concurrency in flight): what a class start asks of each process.
        "joins_per_s": round(outcome.joined / outcome.join_s / args.servers, 1) if outcome.join_s else None,
        "join_cpu_ms": round(outcome.join_cpu_ms, 1),
        "fanout_p50_ms": ms(fan50),
        "fanout_p99_ms": ms(fan99),
        "messages_per_s": round(messages_per_s),
        "lost": lost,
        "server_cpu_pct": round(outcome.server_cpu_pct, 1),
        "server_rss_mb": round(rss_mb, 1),
        "baseline_fanout_p50_ms": ms(base50),
        "baseline_fanout_p99_ms": ms(base99),
        "fanout_p50_ratio": ratio(fan50, base50),
        "fanout_p99_ratio": ratio(fan99, base99),
        "servers": args.servers,
        "asgi_server": args.asgi_server,
        "joined": outcome.joined,
        "lost_by_joined_clients": lost_in_joined,
        "join_retries": sum(shared.join_retries.values()),
        "questions": len(questions),
        "votes": votes,
        "votes_intended": intended,
        "votes_per_client": args.votes_per_client,
        "errors": sum(shared.errors.values()),
        "converged": outcome.converged,
        "broadcast_s": round(outcome.broadcast_s, 1),
        "fanout_max_ms": ms(max(shared.fanout_ms, default=math.nan)),
        "client_cpu_pct": round(outcome.client_cpu_pct, 1),
        "client_loop_lag_p99_ms": ms(percentile(shared.loop_lag_ms, 0.99)),
        "server_errors": len(problems),
        "servers_killed_after_sigterm": len(hung),
        "conn_max_age": server_db.get("CONN_MAX_AGE", 0),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwind through the finally blocks: stop the servers, drop the database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="websocket clients in the session (1,000)")
    parser.add_argument("--servers", type=int, default=1, help="server processes sharing Redis (1)")
    parser.add_argument(
        "--asgi-server", choices=sorted(ASGI_SERVERS), default="uvicorn", help="uvicorn, as deployed (or daphne)"
    )
    parser.add_argument("--questions", type=int, default=50, help="clients that ask one question each (50)")
    parser.add_argument(
        "--votes-per-client", type=int, default=5, help="questions each client upvotes (5; 50 = every question)"
    )
    parser.add_argument("--ask-spread", type=float, default=5.0, help="seconds the questions are spread over (5)")
    parser.add_argument("--join-concurrency", type=int, default=100, help="joins in flight at once (100)")
    parser.add_argument("--join-timeout", type=float, default=30.0, help="seconds to wait for a welcome (30)")
    parser.add_argument("--join-attempts", type=int, default=5, help="tries per client before giving up (5)")
    parser.add_argument("--send-rate", type=float, default=10.0, help="frames/s a client sends at most (10)")
    parser.add_argument("--pings", type=int, default=20, help="trivial broadcasts for the baseline (20)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the Q&A phase may take (600)")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="end after this long without a frame (30)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--profile-joins", metavar="FILE", help="sample the first server through the join phase with py-spy into FILE"
    )
    args = parser.parse_args()
    args.questions = min(args.questions, args.clients)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # a shell starting us in the background ignores SIGINT otherwise

    base_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    database = BenchDatabase.beside(base_url)
    limit = raise_open_file_limit()
    say(
        f"PostgreSQL {database.admin['host']}:{database.admin['port']} "
        f"(DATABASE_URL {'from the environment' if os.environ.get('DATABASE_URL') else 'default'}), "
        f"bench database {database.name}"
    )
    say(
        f"Redis {redis_url} ({'from the environment' if os.environ.get('REDIS_URL') else 'default'}); "
        f"open-file limit {limit:,}; {os.cpu_count()} CPUs"
    )

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "lms.settings",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, as behind the TLS proxy
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
        }
    )
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    started = time.perf_counter()
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.hashers import get_hashers

        # Seeding hashes one password; a benchmark has no reason to wait for PBKDF2.
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        get_hashers.cache_clear()  # type: ignore[attr-defined]
        say(f"{database.create_migrated()} in {time.perf_counter() - started:.1f} s")
        summary = run(args, database, redis_url)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            database.drop()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
