"""Real Celery workers for the crash drills (tests/certificates/test_worker_crash.py, tests/faults): processes of
their own on the test database and the broker at REDIS_URL, killed with SIGKILL as a crash or an OOM kill would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# A killed worker's unacknowledged task comes back this soon (CELERY_VISIBILITY_TIMEOUT; an hour in production).
VISIBILITY_TIMEOUT_SECONDS = 4


def worker_database_url() -> str:
    """The test database (PostgreSQL) as a worker process's DATABASE_URL."""
    from django.db import connection

    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


def start_worker(*, queue: str, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A solo-pool worker on `queue`, in a process group of its own (so `kill_worker` takes its children too)."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lms.settings.test",
        "DATABASE_URL": worker_database_url(),
        "DATABASE_POOL": "false",
        "CELERY_QUEUE": queue,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        **(env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "--pool=solo", "-Q", queue, "-n", name]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
    return subprocess.Popen(command, env=environment, start_new_session=True)


def kill_worker(worker: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL the worker and everything it started (ffmpeg, say), if still running."""
    if worker is not None and worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
