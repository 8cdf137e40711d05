"""Exam storm: N candidates start the same sitting within a minute and save an answer every few seconds, on two app
processes behind a balancer, one of which is killed (and restarted) once mid-run.

    .venv/bin/python bench/exam_storm.py                     # the issue's run: 500 candidates, 10 minutes, every 10 s
    .venv/bin/python bench/exam_storm.py --candidates 200 --minutes 2

It reads DATABASE_URL and REDIS_URL like the app (PostgreSQL and Redis are required; without them it uses
postgres://postgres@127.0.0.1:5432/corridor_bench_exam and redis://127.0.0.1:6379/0), creates and migrates a
throwaway database of its own (`<name>_bench_exam_<pid>`; dropped at the end), and seeds what an exam centre has
before a sitting: an exam of short-answer questions whose duration is the run's, a sitting open now, N trainees
registered, checked in and signed in (a session each), and their papers prepared (before the start, as the
preparation task does). Two app processes (`python -m lms.serve`, as deployed) serve it behind lms.cluster's
balancer (round robin; a dead process is passed over).

Each candidate (an asyncio task in this process, speaking plain HTTP through the balancer as the exam page does)
starts at a random moment of the first --start-window seconds (POST start), then every --save-interval seconds
saves one answer (the next sequence number; a new text for one of its questions, in turn) until its time is nearly
up. A save that fails (connection refused or reset, 5xx: the process it reached was killed) is sent again until it
is acknowledged; only an acknowledged save counts as one the candidate believes stored. At --kill-at of the run one
app process is killed with SIGKILL and restarted 3 s later. When a candidate's time is up, even candidates press
Submit and odd ones read their state (each read submits a paper whose time is up), while a process of its own runs the
periodic time-up task every second, as beat would: three ways racing to submit each paper.

At the end: lost_answers = acknowledged answers the database does not hold (no row, or an older sequence, or other
text); double_submissions = papers whose submitted_at was set more than once (a trigger on the paper table records
every change of submitted_at). save_p50_ms / save_p95_ms = acknowledged saves' request times (the try that got
the acknowledgement; retries are counted apart).

Human-readable lines first; the last line of stdout is one JSON object:
{"candidates", "saves", "save_p50_ms", "save_p95_ms", "lost_answers", "double_submissions", ...}.
Goals (issue 16, item 8): save p95 < 100 ms, lost_answers = 0, double_submissions = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_load import (  # noqa: E402 - after the path is set
    BenchDatabase,
    Server,
    percentile,
    raise_open_file_limit,
    say,
    server_problems,
    start_servers,
    stop_servers,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/corridor_bench_exam"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CSRF_TOKEN = "b" * 32  # the page's CSRF cookie and header (Django compares the two)
QUESTIONS = 5


def ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


# Seeding -------------------------------------------------------------------------------------------------------


@dataclass
class Seat:
    candidate_id: int
    paper_id: int
    questions: list[int]
    cookie: str


def seed(candidates: int, duration_minutes: int) -> tuple[int, list[Seat]]:
    """The exam, its sitting open now, the candidates checked in with papers prepared, one signed-in session each."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from exams import services
    from exams.models import Candidate, Exam, ExamRoom, Paper, PaperRule, Question, QuestionKind, Sitting
    from lms.accounts.models import User
    from lms.accounts.roles import Role

    now = timezone.now()
    password = make_password("a-bench-password")
    with transaction.atomic():
        exam = Exam.objects.create(code="STORM", title="Exam storm", duration_minutes=duration_minutes)
        Question.objects.bulk_create(
            [
                Question(exam=exam, kind=QuestionKind.SHORT_ANSWER, topic="storm", text=f"Question {n}?")
                for n in range(QUESTIONS)
            ]
        )
        PaperRule.objects.create(exam=exam, kind=QuestionKind.SHORT_ANSWER, topic="storm", count=QUESTIONS)
        room = ExamRoom.objects.create(name="Storm hall", seats=candidates)
        # Scheduled directly (no clash to check in a fresh database): open from a second ago for the exam's length
        # and a margin for the start window.
        sitting = Sitting.objects.create(
            exam=exam,
            room=room,
            starts_at=now - timedelta(seconds=1),
            ends_at=now + timedelta(minutes=duration_minutes + 5),
            seats=candidates,
            registration_closes_at=now - timedelta(seconds=1),
        )
        users = User.objects.bulk_create(
            [
                User(email=f"candidate{i}@storm.test", first_name=f"Candidate {i}", password=password)
                for i in range(candidates)
            ],
            batch_size=1000,
        )
        trainee_group = Group.objects.get(name=Role.TRAINEE.value)
        membership = User.groups.through
        membership.objects.bulk_create(
            [membership(user_id=u.pk, group_id=trainee_group.pk) for u in users], batch_size=1000
        )
        Candidate.objects.bulk_create(
            [Candidate(sitting=sitting, user=u, seat_number=n + 1, checked_in_at=now) for n, u in enumerate(users)],
            batch_size=1000,
        )
    services.paper_prepare(sitting=sitting)
    with connection.cursor() as cursor:
        # Every change of a paper's submitted_at, whoever makes it: a second one is a double submission.
        cursor.execute(
            "CREATE TABLE storm_submission_audit (paper_id bigint NOT NULL, submitted_at timestamptz, "
            "submitted_how text, at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        cursor.execute(
            "CREATE FUNCTION storm_audit() RETURNS trigger AS $$ BEGIN "
            "IF NEW.submitted_at IS DISTINCT FROM OLD.submitted_at THEN "
            "INSERT INTO storm_submission_audit (paper_id, submitted_at, submitted_how) "
            "VALUES (NEW.id, NEW.submitted_at, NEW.submitted_how); END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER storm_audit AFTER UPDATE ON exams_paper FOR EACH ROW EXECUTE FUNCTION storm_audit()"
        )
    store = SessionStore()
    backend = next(path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user"))
    rows, cookies = [], {}
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: user.get_session_auth_hash()}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=now + timedelta(days=1)))
        cookies[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=1000)
    seats = [
        Seat(
            candidate_id=paper.candidate_id,
            paper_id=paper.pk,
            questions=[int(item["question"]) for item in paper.items],
            cookie=cookies[paper.candidate.user_id],
        )
        for paper in Paper.objects.filter(candidate__sitting=sitting).select_related("candidate").order_by("pk")
    ]
    return sitting.pk, seats


# HTTP, as plain as the page's fetch ----------------------------------------------------------------------------


class Refused(Exception):
    """The server answered, and not with success: not to be retried as is (unless 5xx, handled by the caller)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.code = str((body.get("error") or {}).get("code", ""))


async def http(port: int, method: str, path: str, *, cookie: str, body: Any = None, timeout: float = 10.0) -> Any:
    """One request on a fresh connection through the balancer; returns the JSON body of a 2xx/3xx answer. Raises
    OSError (or TimeoutError) when the link fails, Refused for 4xx/5xx."""
    from django.conf import settings

    payload = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n"
        f"Cookie: {settings.SESSION_COOKIE_NAME}={cookie}; {settings.CSRF_COOKIE_NAME}={CSRF_TOKEN}\r\n"
        f"X-CSRFToken: {CSRF_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head.encode() + payload)
            await writer.drain()
            return await reader.read(-1)
        finally:
            writer.close()

    raw = await asyncio.wait_for(exchange(), timeout)
    if not raw:
        raise ConnectionResetError("closed without an answer")
    header, _, content = raw.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    try:
        data = json.loads(content) if content.strip() else {}
    except ValueError:
        data = {}
    if status >= 400:
        raise Refused(status, data if isinstance(data, dict) else {})
    return data


# Candidates ----------------------------------------------------------------------------------------------------


@dataclass
class Shared:
    port: int
    save_ms: list[float] = field(default_factory=list)
    save_at: list[float] = field(default_factory=list)  # when each acknowledged save was sent (monotonic)
    saves: int = 0
    retries: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    started: int = 0
    submitted_seen: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class Candidate:
    seat: Seat
    index: int
    acknowledged: dict[int, tuple[int, str]] = field(default_factory=dict)  # question → (seq, text) acknowledged
    seq: int = 0
    seconds_left: float = math.inf
    submitted: bool = False

    async def call(self, shared: Shared, method: str, path: str, body: Any = None, *, until: float) -> Any:
        """Send until answered (a link failure or 5xx is retried after a short wait), or `until` passes."""
        delay = 0.2
        while True:
            try:
                return await http(shared.port, method, path, cookie=self.seat.cookie, body=body)
            except Refused as refused:
                if refused.status < 500 and refused.status != 429:
                    raise
                shared.errors[f"http {refused.status}"] += 1
            except (OSError, TimeoutError, IndexError, ValueError) as failure:
                shared.errors[type(failure).__name__] += 1
            if time.monotonic() > until:
                raise TimeoutError(f"{method} {path} not answered in time")
            shared.retries += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    async def run(self, shared: Shared, args: argparse.Namespace, t0: float) -> None:
        seat = self.seat
        await asyncio.sleep(random.uniform(0, args.start_window))
        horizon = time.monotonic() + args.minutes * 60 + args.start_window + 600
        await self.call(shared, "POST", f"/en/exams/candidates/{seat.candidate_id}/exam/start/", until=horizon)
        shared.started += 1
        state = await self.call(shared, "GET", f"/en/exams/papers/{seat.paper_id}/state/", until=horizon)
        self.seconds_left = float(state["seconds_left"])
        saving_ends = time.monotonic() + min(args.minutes * 60, self.seconds_left - 2)
        await asyncio.sleep(random.uniform(0, args.save_interval))
        while time.monotonic() < saving_ends:
            await self.save(shared, horizon)
            await asyncio.sleep(args.save_interval)
        await self.finish(shared, horizon)

    async def save(self, shared: Shared, horizon: float) -> None:
        self.seq += 1
        question = self.seat.questions[self.seq % len(self.seat.questions)]
        text = f"answer {self.seq} of candidate {self.index}"
        body = {"answers": [{"question": question, "seq": self.seq, "choices": [], "text": text}]}
        path = f"/en/exams/papers/{self.seat.paper_id}/answers/"
        delay = 0.2
        while True:
            started = time.perf_counter()
            try:
                reply = await http(shared.port, "POST", path, cookie=self.seat.cookie, body=body)
            except Refused as refused:
                if refused.status >= 500 or refused.status == 429:
                    shared.errors[f"http {refused.status}"] += 1
                else:
                    shared.refused[refused.code] += 1  # time up, submitted: not acknowledged, not believed stored
                    return
            except (OSError, TimeoutError, IndexError, ValueError) as failure:
                shared.errors[type(failure).__name__] += 1
            else:
                shared.save_ms.append((time.perf_counter() - started) * 1000)
                shared.save_at.append(time.monotonic())
                shared.saves += 1
                self.acknowledged[question] = (self.seq, text)
                self.seconds_left = float(reply.get("seconds_left", self.seconds_left))
                return
            if time.monotonic() > horizon:
                shared.errors["save abandoned"] += 1
                return
            shared.retries += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    async def finish(self, shared: Shared, horizon: float) -> None:
        """Wait for time-up as the page does; then even candidates press Submit, odd ones read their state (which
        submits a paper whose time is up), until the paper is submitted."""
        state = await self.call(shared, "GET", f"/en/exams/papers/{self.seat.paper_id}/state/", until=horizon)
        await asyncio.sleep(max(0.0, float(state["seconds_left"])) + 0.5)  # the page asks once its clock shows 0
        while time.monotonic() < horizon:
            if self.index % 2 == 0:
                try:
                    await self.call(shared, "POST", f"/en/exams/papers/{self.seat.paper_id}/submit/", until=horizon)
                except Refused as refused:
                    if refused.code != "already_submitted":
                        shared.errors[f"submit {refused.code}"] += 1
            state = await self.call(shared, "GET", f"/en/exams/papers/{self.seat.paper_id}/state/", until=horizon)
            if state.get("submitted_at"):
                self.submitted = True
                shared.submitted_seen += 1
                return
            await asyncio.sleep(1.0)


# The run -------------------------------------------------------------------------------------------------------


def restart(dead: Server, env: dict[str, str], log_dir: Path) -> Server:
    """The killed app process started again on its port (the balancer's upstream), once it answers /healthz."""
    log = log_dir / f"uvicorn-restarted-{dead.port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lms.serve", "--host", "127.0.0.1", "--port", str(dead.port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{dead.port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return Server(port=dead.port, process=process, log=log, ps=psutil.Process(process.pid))


def beat_forever() -> None:
    """The periodic time-up task every second, as a Celery worker runs it for beat: in a process of its own (run
    with --beat), so that its work does not share this process's interpreter with the candidates and the balancer.
    Prints how many papers it submitted when stopped (SIGTERM)."""
    from exams import attempts

    submitted = 0
    try:
        while True:
            submitted += len(attempts.papers_submit_time_up())
            time.sleep(1.0)
    except KeyboardInterrupt:
        print(submitted, flush=True)


def start_beat(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--beat"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


def stop_beat(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return int(out.strip() or 0)


async def storm(
    args: argparse.Namespace, seats: list[Seat], servers: list[Server], env: dict[str, str]
) -> dict[str, Any]:
    from lms.cluster import Balancer

    balancer = Balancer(upstreams=[("127.0.0.1", s.port) for s in servers])
    listener = await asyncio.start_server(balancer.handle, "127.0.0.1", 0, backlog=4096)
    port = listener.sockets[0].getsockname()[1]
    watcher = asyncio.create_task(balancer.watch())
    shared = Shared(port=port)
    candidates = [Candidate(seat=seat, index=n) for n, seat in enumerate(seats)]
    t0 = time.monotonic()
    beat = start_beat(env)
    run_seconds = args.start_window + args.minutes * 60

    async def kill_one() -> dict[str, Any]:
        await asyncio.sleep(run_seconds * args.kill_at)
        victim = servers[0]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        killed_at = time.monotonic() - t0
        say(f"killed app process :{victim.port} (pid {victim.process.pid}) at {killed_at:.0f} s")
        await asyncio.sleep(3)
        servers[0] = await asyncio.to_thread(restart, victim, env, Path(args.log_dir))
        say(f"restarted it at {time.monotonic() - t0:.0f} s")
        return {"killed_at_s": round(killed_at, 1)}

    killer = asyncio.create_task(kill_one())
    results = await asyncio.gather(*(c.run(shared, args, t0) for c in candidates), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    beat_submitted = await asyncio.to_thread(stop_beat, beat)
    kill = await killer if killer.done() else (killer.cancel(), {"killed_at_s": None})[1]
    watcher.cancel()
    listener.close()
    elapsed = time.monotonic() - t0
    return {
        "shared": shared,
        "candidates": candidates,
        "failures": failures,
        "beat_submitted": beat_submitted,
        "elapsed": elapsed,
        "t0": t0,
        **kill,
    }


def timeline(shared: Shared, t0: float, every: float = 30.0) -> list[str]:
    """Save times by when the save was sent: where in the run (start window, kill, time-up) the slow ones are."""
    buckets: dict[int, list[float]] = {}
    for at, took in zip(shared.save_at, shared.save_ms, strict=True):
        buckets.setdefault(int((at - t0) // every), []).append(took)
    return [
        f"  {n * every:4.0f}–{(n + 1) * every:4.0f} s: {len(times):5,} saves, p50 {percentile(times, 0.5):6.1f} ms, "
        f"p95 {percentile(times, 0.95):6.1f} ms, max {max(times):7.1f} ms"
        for n, times in sorted(buckets.items())
    ]


def server_save_times(port: int) -> dict[float, float]:
    """The app process's histogram of save times (its /metrics): cumulative count at each bucket's bound (s)."""
    import re

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    pattern = re.compile(
        r'^corridor_http_request_duration_seconds_bucket\{(?=[^}]*method="POST")(?=[^}]*view="exams:paper-answers")'
        r'(?=[^}]*le="([^"]+)")[^}]*\} ([0-9.e+]+)$',
        re.M,
    )
    return {float(bound): float(count) for bound, count in pattern.findall(text)}


def served_summary(histograms: list[dict[float, float]]) -> str:
    """Share of the saves each app process answered within each bound (the restarted one only counts its own)."""
    merged: Counter[float] = Counter()
    for histogram in histograms:
        merged.update(histogram)
    total = merged.get(math.inf, 0.0)
    if not total:
        return "no saves recorded"
    return ", ".join(
        f"≤{bound * 1000:g} ms {count / total:.1%}" for bound, count in sorted(merged.items()) if bound <= 1.0
    )


def verdict(candidates: list[Candidate]) -> tuple[int, int, Counter[str]]:
    """Lost answers (acknowledged, not in the database as acknowledged) and double submissions."""
    from django.db import connection

    from exams.models import Answer

    held = {
        (paper, question): (seq, text)
        for paper, question, seq, text in Answer.objects.values_list("paper_id", "question_id", "seq", "text")
    }
    lost = 0
    for candidate in candidates:
        for question, (seq, text) in candidate.acknowledged.items():
            stored = held.get((candidate.seat.paper_id, question))
            if stored is None or stored[0] < seq or (stored[0] == seq and stored[1] != text):
                lost += 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT paper_id, count(*) FROM storm_submission_audit GROUP BY paper_id")
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT submitted_how, count(*) FROM exams_paper GROUP BY submitted_how")
        how = Counter({str(k or "not submitted"): v for k, v in cursor.fetchall()})
    double = sum(1 for n in counts.values() if n > 1)
    return lost, double, how


def run(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    duration = max(1, math.ceil(args.minutes + 10 / 60))  # the paper's time: the saving minutes and a little more
    seeding = time.perf_counter()
    _, seats = seed(args.candidates, duration)
    say(f"seeded {len(seats)} candidates (papers prepared, checked in) in {time.perf_counter() - seeding:.1f} s")
    servers = start_servers("uvicorn", 2, env, Path(args.log_dir))
    say(f"app processes on :{servers[0].port} and :{servers[1].port}; exam duration {duration} min")
    try:
        outcome = asyncio.run(storm(args, seats, servers, env))
        served = [server_save_times(server.port) for server in servers]
    finally:
        hung = stop_servers(servers)
    shared: Shared = outcome["shared"]
    lost, double, how = verdict(outcome["candidates"])
    problems = server_problems(servers)
    p50, p95 = percentile(shared.save_ms, 0.5), percentile(shared.save_ms, 0.95)
    say(
        f"{shared.started} of {len(seats)} started; {shared.saves:,} saves acknowledged in {outcome['elapsed']:.0f} s, "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(shared.save_ms, default=math.nan):.1f} ms; "
        f"{shared.retries:,} retries; refused {dict(shared.refused) or 'none'}; "
        f"link errors {dict(shared.errors) or 'none'}"
    )
    for line in timeline(shared, outcome["t0"]):
        say(line)
    say(f"inside the app processes (Django's middleware to the response): {served_summary(served)}")
    say(
        f"papers: {dict(how)}; {shared.submitted_seen} candidates saw theirs submitted; the periodic task submitted "
        f"{outcome['beat_submitted']}; lost answers {lost}; double submissions {double}"
    )
    if outcome["failures"]:
        say(f"{len(outcome['failures'])} candidates failed, first: {outcome['failures'][0]!r}")
    if problems:
        say(f"servers logged {len(problems)} error line(s), first: {problems[0]}")
    return {
        "candidates": len(seats),
        "saves": shared.saves,
        "save_p50_ms": ms(p50),
        "save_p95_ms": ms(p95),
        "lost_answers": lost,
        "double_submissions": double,
        "started": shared.started,
        "submitted": sum(v for k, v in how.items() if k != "not submitted"),
        "submitted_time_up": how.get("time_up", 0),
        "retries": shared.retries,
        "link_errors": sum(shared.errors.values()),
        "candidate_failures": len(outcome["failures"]),
        "killed_at_s": outcome["killed_at_s"],
        "minutes": args.minutes,
        "save_interval_s": args.save_interval,
        "server_errors": len(problems),
        "servers_killed_after_sigterm": len(hung),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=500, help="candidates in the sitting (500)")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes each candidate keeps saving (10)")
    parser.add_argument("--save-interval", type=float, default=10.0, help="seconds between a candidate's saves (10)")
    parser.add_argument("--start-window", type=float, default=60.0, help="seconds over which candidates start (60)")
    parser.add_argument("--kill-at", type=float, default=0.5, help="when one app process is killed: share of the run")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--beat", action="store_true", help=argparse.SUPPRESS)  # the time-up task's own process
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    if args.beat:
        import django

        django.setup()
        beat_forever()
        return

    base_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    database = BenchDatabase.beside(base_url)
    database.name = database.name.replace("_bench_live_", "_bench_exam_")
    database.url = database.url.replace("_bench_live_", "_bench_exam_")
    limit = raise_open_file_limit()
    say(f"PostgreSQL bench database {database.name}; Redis {redis_url}; open files {limit:,}; {os.cpu_count()} CPUs")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "lms.settings",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "METRICS_ALLOWED_NETWORKS": "127.0.0.1/32",
            "SECURE_SSL_REDIRECT": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SESSION_COOKIE_SECURE": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
        }
    )
    env = dict(os.environ)
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="exam-storm-") as log_dir:
        args.log_dir = log_dir
        try:
            import django

            django.setup()
            from django.conf import settings
            from django.contrib.auth.hashers import get_hashers

            settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
            get_hashers.cache_clear()  # type: ignore[attr-defined]
            say(f"{database.create_migrated()} in {time.perf_counter() - started:.1f} s")
            summary = run(args, env)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep_db:
                database.drop()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
