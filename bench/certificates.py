"""Certificate issuing benchmark: N certificates end to end (eligibility, PDF, signed credential, upload to S3)
with real Celery workers on Redis.

    .venv/bin/python bench/certificates.py                      # 2,000 certificates, 2 workers: goal ≥ 30/s
    .venv/bin/python bench/certificates.py --certificates 200   # a quick look

It reads DATABASE_URL and REDIS_URL like the app (PostgreSQL and Redis are required; without them it uses
postgres://postgres@127.0.0.1:5432/corridor_bench_certs and redis://127.0.0.1:6379/0), creates and migrates a
throwaway database of its own (`<name>_bench_certs_<pid>`), starts a local S3 endpoint (moto's server, over HTTP)
with a bucket, seeds a course with a rule, a finished live session and N trainees who all qualify, then starts
--workers Celery worker processes (`celery -A lms worker`, prefork, --concurrency each) on a queue of its own.

The run starts the way an administrator starts it (`certificate_batch_start`: the eligibility report, one item and
one task per trainee) and ends when no item is pending. Reported:

* per_second: certificates / (last item finished − batch started), the run as a whole;
* p50_ms / p95_ms: per certificate, from its task starting to its certificate being stored and recorded;
* duplicates: trainees holding more than one certificate; missing: qualifying trainees holding none.

Baseline, in the same run: --baseline-sample more trainees are certified first by the same batch and the same
tasks, run one after another in the bench's own process (Celery eager: PDF, signature, upload, database), with no
queue and no parallelism; ratio = the run's certificates per second ÷ the baseline's.

Human-readable lines first; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_load import BenchDatabase, percentile, say  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/corridor_bench_certs"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BUCKET = "corridor-bench-certificates"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(count: int) -> tuple[Any, Any, list[Any]]:
    """A course whose rule `count` trainees all meet (bulk inserts: seeding is not what is measured)."""
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from certificates import services
    from classrooms.models import AttendanceRecord, AttendanceSource, AttendanceStay, LiveSession, SessionState
    from courses.models import Enrolment, LessonCompletion, LessonPage
    from lms.accounts.models import User
    from lms.accounts.roles import Role
    from lms.demo import ensure_catalogue, ensure_locales
    from tests import factories

    english, chinese = ensure_locales()
    catalogue, _ = ensure_catalogue(english, chinese)
    course = factories.course_with_lessons(catalogue, modules=2, lessons=2, title="Cross-border Safety")
    admin = User.objects.create_user("bench-admin@corridor.example", "x", first_name="Ada", last_name="Tan")
    admin.groups.add(Group.objects.get(name=Role.ADMINISTRATOR.value))
    instructor = User.objects.create_user("bench-instructor@corridor.example", "x")
    starts_at = timezone.now() - timedelta(days=1)
    session = LiveSession.objects.create(
        title="Kick-off",
        course=course,
        instructor=instructor,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        state=SessionState.ENDED,
    )
    surnames = ["陈", "王", "李", "张", "刘", "杨", "黄", "赵", "吴", "周"]
    given = ["伟明", "晓雨", "美玲", "俊杰", "嘉欣", "志强", "丽娜", "子涵", "浩然", "雪梅"]
    users = User.objects.bulk_create(
        [
            User(
                email=f"trainee{n}@corridor.example",
                first_name=f"Trainee{n}",
                last_name="Bench",
                name_zh=surnames[n % 10] + given[(n // 10) % 10],
                password="!",
            )
            for n in range(count)
        ]
    )
    users = list(User.objects.filter(email__startswith="trainee").order_by("pk"))
    trainees = Group.objects.get(name=Role.TRAINEE.value)
    trainees.user_set.add(*users)
    Enrolment.objects.bulk_create(
        [Enrolment(user=user, course=course, course_key=course.translation_key) for user in users]
    )
    records = AttendanceRecord.objects.bulk_create([AttendanceRecord(session=session, user=user) for user in users])
    AttendanceStay.objects.bulk_create(
        [
            AttendanceStay(
                record=record,
                source=AttendanceSource.REMOTE,
                started_at=session.starts_at,
                last_seen_at=session.ends_at,
                ended_at=session.ends_at,
            )
            for record in records
        ]
    )
    lessons = list(LessonPage.objects.live().descendant_of(course).values_list("translation_key", flat=True))
    LessonCompletion.objects.bulk_create(
        [
            LessonCompletion(user=user, course_key=course.translation_key, lesson_key=lesson)
            for user in users
            for lesson in lessons
        ]
    )
    services.certificate_rule_set(
        course=course, by=admin, min_attendance_percent=80, require_all_modules=True, final_pass_mark=None
    )
    return course, admin, users


def baseline(*, course: Any, admin: Any, users: list[Any], profile: bool) -> float:
    """Seconds per certificate when this process runs the same issuing tasks one after another (Celery eager):
    the same code path as the workers (batch start, then each item: PDF, signature, upload, database), no queue,
    no parallelism."""
    from certificates import documents, services
    from lms.celery import app

    documents.warm_up()  # as the workers do at start
    app.conf.task_always_eager = True
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    started = time.perf_counter()
    try:
        if profiler is not None:
            profiler.enable()
        services.certificate_batch_start(course=course, by=admin, user_ids=[user.pk for user in users])
    finally:
        if profiler is not None:
            profiler.disable()
        app.conf.task_always_eager = False
    elapsed = time.perf_counter() - started
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    return elapsed / len(users)


def start_workers(
    count: int, concurrency: int, prefetch: int, env: dict[str, str], log_dir: Path
) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(count):
        log = open(log_dir / f"worker-{index}.log", "wb")  # noqa: SIM115 (closed with the process)
        command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "-Q", env["CELERY_QUEUE"]]
        command += [
            f"--concurrency={concurrency}",
            f"--prefetch-multiplier={prefetch}",
            "-n",
            f"bench{index}-{os.getpid()}@%h",
            "-l",
            "warning",
        ]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        workers.append(
            subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
    return workers


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its children (a prefork worker's pool)."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)


def wait_for_workers(redis_url: str, queue: str, timeout: float) -> None:
    """Until the workers answer a ping (their fonts are loaded before they consume)."""
    from lms.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if replies:
            return
    raise SystemExit("the Celery workers did not start")


def run(
    args: argparse.Namespace, database: BenchDatabase, redis_url: str, s3_endpoint: str, s3_pid: int
) -> dict[str, Any]:
    from django.db import connections
    from django.db.models import Count

    from certificates import selectors, services
    from certificates.models import Certificate, IssueBatchItem, ItemState

    started = time.perf_counter()
    course, admin, users = seed(args.certificates + args.baseline_sample)
    say(f"seeded a course, its rule and {len(users):,} qualifying trainees in {time.perf_counter() - started:.1f} s")
    per_baseline = baseline(course=course, admin=admin, users=users[: args.baseline_sample], profile=args.profile)
    say(
        f"baseline: {args.baseline_sample} certificates issued by the same tasks run one after another in this "
        f"process (no queue, no parallelism): {per_baseline * 1000:.1f} ms each, {1 / per_baseline:.1f}/s"
    )
    connections.close_all()

    queue = f"corridor-bench-certificates-{os.getpid()}"
    env = {**os.environ, "CELERY_QUEUE": queue}
    log_dir = Path(tempfile.mkdtemp(prefix="corridor-bench-certificates-"))
    workers = start_workers(args.workers, args.concurrency, args.prefetch, env, log_dir)
    try:
        wait_for_workers(redis_url, queue, timeout=120)
        say(f"{args.workers} workers × concurrency {args.concurrency} on {queue} (logs in {log_dir})")
        from lms.celery import app

        app.conf.task_default_queue = queue  # before the first send: Celery caches its routing
        cpu_before = {"workers": sum(tree_cpu_seconds(w.pid) for w in workers), "s3": tree_cpu_seconds(s3_pid)}
        run_started = time.perf_counter()
        batch = services.certificate_batch_start(course=course, by=admin)
        last_report = 0.0
        while True:
            progress = selectors.batch_progress(batch=batch)
            if progress.finished:
                break
            if time.perf_counter() - last_report > 5:
                say(f"  {progress.done:,} done, {progress.failed:,} failed, {progress.remaining:,} remaining")
                last_report = time.perf_counter()
            if time.perf_counter() - run_started > args.timeout:
                say("timed out")
                break
            time.sleep(0.2)
        wall = time.perf_counter() - run_started
        cpu = {
            "workers": sum(tree_cpu_seconds(w.pid) for w in workers) - cpu_before["workers"],
            "s3": tree_cpu_seconds(s3_pid) - cpu_before["s3"],
        }
    finally:
        stop_workers(workers)

    items = list(IssueBatchItem.objects.filter(batch=batch).values_list("state", "started_at", "finished_at"))
    done = [(s, f) for state, s, f in items if state == ItemState.DONE and s and f]
    per_certificate_ms = [(f - s).total_seconds() * 1000 for s, f in done]
    first_start = batch.created_at
    last_finish = max((f for _s, f in done), default=first_start)
    span = max((last_finish - first_start).total_seconds(), 1e-9)
    per_user = dict(Certificate.objects.values("user_id").annotate(n=Count("pk")).values_list("user_id", "n"))
    duplicates = sum(n - 1 for n in per_user.values() if n > 1)
    eligible = args.certificates + args.baseline_sample
    missing = eligible - len(per_user)
    failed = sum(1 for state, *_ in items if state == ItemState.FAILED)
    per_second = len(done) / span
    say(
        f"issued {len(done):,} certificates ({failed} failed) in {span:.1f} s (wall {wall:.1f} s): {per_second:.1f}/s; "
        f"per certificate p50 {percentile(per_certificate_ms, 0.5):.1f} ms, "
        f"p95 {percentile(per_certificate_ms, 0.95):.1f} ms"
    )
    say(f"duplicates {duplicates}, missing {missing}; S3 endpoint {s3_endpoint} bucket {BUCKET}")
    say(
        f"CPU per certificate: workers {cpu['workers'] / max(len(done), 1) * 1000:.1f} ms, "
        f"S3 server {cpu['s3'] / max(len(done), 1) * 1000:.1f} ms (the rest: PostgreSQL, Redis, this process)"
    )
    return {
        "certificates": len(done),
        "per_second": round(per_second, 1),
        "p50_ms": round(percentile(per_certificate_ms, 0.5), 1),
        "p95_ms": round(percentile(per_certificate_ms, 0.95), 1),
        "duplicates": duplicates,
        "missing": missing,
        "failed": failed,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "prefetch": args.prefetch,
        "baseline_ms": round(per_baseline * 1000, 1),
        "baseline_per_second": round(1 / per_baseline, 1),
        "ratio": round(per_second * per_baseline, 1),
        "worker_cpu_ms_per_certificate": round(cpu["workers"] / max(len(done), 1) * 1000, 1),
        "s3_cpu_ms_per_certificate": round(cpu["s3"] / max(len(done), 1) * 1000, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwind through the finally blocks: stop the workers, drop the database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=2000, help="qualifying trainees to certify (2,000)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (2)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children per worker (2)")
    parser.add_argument(
        "--prefetch", type=int, default=1, help="tasks a worker child reserves ahead (1, the project's setting)"
    )
    parser.add_argument(
        "--baseline-sample", type=int, default=50, help="certificates issued one by one for the baseline (50)"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the baseline")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds the run may take (900)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)

    base_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    database = BenchDatabase.beside(base_url)
    database.name = database.name.replace("_bench_live", "_bench_certs")
    database.url = database.url.rsplit("/", 1)[0] + "/" + database.name
    say(f"PostgreSQL {database.admin['host']}:{database.admin['port']}, bench database {database.name}")
    say(f"Redis {redis_url}; {os.cpu_count()} CPUs")

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    # moto's S3 server in a process of its own, as a real endpoint would be (not sharing this process's GIL).
    s3_port = free_port()
    s3 = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    s3_endpoint = f"http://127.0.0.1:{s3_port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", s3_port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("moto's S3 server did not start") from None
            time.sleep(0.1)
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="ap-southeast-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})

    from certificates.credentials import generate_secret

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "lms.settings",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, as behind the TLS proxy
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": s3_endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "CERTIFICATE_SIGNING_KEY": os.environ.get("CERTIFICATE_SIGNING_KEY") or generate_secret(),
        }
    )
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.hashers import get_hashers

        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        get_hashers.cache_clear()  # type: ignore[attr-defined]  # an lru_cache, which django-stubs does not say
        say(f"{database.create_migrated()} in {time.perf_counter() - started:.1f} s")
        summary = run(args, database, redis_url, s3_endpoint, s3.pid)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            database.drop()
        s3.terminate()
        s3.wait(timeout=10)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
