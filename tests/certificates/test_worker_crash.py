"""Exactly once, with real workers: a Celery worker on Redis is killed (SIGKILL) in the middle of a bulk run,
another one starts, and every eligible trainee ends with exactly one certificate."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from certificates import selectors, services
from certificates.models import Certificate, CertificateState, IssueBatchItem, ItemState
from lms.celery import app
from tests.support.certificates import course_with_rule
from tests.support.waiting import wait_until

TRAINEES = 40


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database: needs DATABASE_URL (PostgreSQL)")


@pytest.fixture
def queue() -> str:
    """The queue this test process sends to (CELERY_QUEUE; Celery caches its routing, so it is not changed here)."""
    return str(app.conf.task_default_queue)


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


def _start_worker(*, queue: str, media_root: Path, name: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lms.settings.test",
        "DATABASE_URL": _database_url(),
        "DATABASE_POOL": "false",
        "MEDIA_ROOT": str(media_root),
        "CELERY_QUEUE": queue,
        # The killed worker's unacknowledged task comes back this soon.
        "CELERY_VISIBILITY_TIMEOUT": "4",
    }
    command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "--pool=solo", "-Q", queue, "-n", name]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
    return subprocess.Popen(command, env=environment, start_new_session=True)


@pytest.mark.real_worker
# Serialized rollback: the flush after a transactional test would take the page tree root with it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_worker_leaves_every_trainee_with_exactly_one_certificate(
    redis_url: str, postgres: None, queue: str, settings: Any, tmp_path: Path
) -> None:
    media_root = tmp_path / "media"
    settings.MEDIA_ROOT = str(media_root)
    setup = course_with_rule()
    trainees = [setup.qualifying_trainee() for _ in range(TRAINEES)]
    setup.add_trainee()  # not eligible: must get nothing

    first = _start_worker(queue=queue, media_root=media_root, name=f"first-{os.getpid()}@%h")
    second = None
    try:
        batch = services.certificate_batch_start(course=setup.course, by=setup.admin)
        done = lambda: IssueBatchItem.objects.filter(batch=batch, state=ItemState.DONE).count()  # noqa: E731
        wait_until(lambda: done() >= 3, timeout=90, message="the first worker to issue a few")
        os.killpg(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        done_when_killed = done()
        assert done_when_killed < TRAINEES, "the run had finished before the kill: nothing was tested"

        second = _start_worker(queue=queue, media_root=media_root, name=f"second-{os.getpid()}@%h")
        wait_until(lambda: selectors.batch_progress(batch=batch).finished, timeout=120, message="the second worker")
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)

    progress = selectors.batch_progress(batch=batch)
    assert (progress.done, progress.failed) == (TRAINEES, 0)
    per_trainee = dict(Certificate.objects.values("user_id").annotate(n=Count("pk")).values_list("user_id", "n"))
    assert per_trainee == {user.pk: 1 for user in trainees}  # none twice, none missing, nobody else
    assert set(Certificate.objects.values_list("state", flat=True)) == {CertificateState.ISSUED}
    for certificate in Certificate.objects.all():
        assert (media_root / certificate.pdf_key).is_file()
        assert (media_root / certificate.credential_key).is_file()
    # Every PDF on disk belongs to a certificate: a retried task rewrote its own files, and made no others.
    assert len(list(media_root.rglob("*.pdf"))) == TRAINEES
