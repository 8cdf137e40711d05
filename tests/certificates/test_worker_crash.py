"""Exactly once, with real workers: a Celery worker on Redis is killed (SIGKILL) in the middle of a bulk run,
another one starts, and every eligible trainee ends with exactly one certificate."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from certificates import selectors, services
from certificates.models import Certificate, CertificateState, IssueBatchItem, ItemState
from lms.celery import app
from lms.regions import storage_for_region
from tests.support.certificates import course_with_rule
from tests.support.waiting import wait_until
from tests.support.workers import kill_worker, start_worker

TRAINEES = 40


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database: needs DATABASE_URL (PostgreSQL)")


@pytest.fixture
def queue() -> str:
    """The queue this test process sends to (CELERY_QUEUE; Celery caches its routing, so it is not changed here)."""
    return str(app.conf.task_default_queue)


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

    first = start_worker(queue=queue, name=f"first-{os.getpid()}@%h", env={"MEDIA_ROOT": str(media_root)})
    second = None
    try:
        batch = services.certificate_batch_start(course=setup.course, by=setup.admin)
        done = lambda: IssueBatchItem.objects.filter(batch=batch, state=ItemState.DONE).count()  # noqa: E731
        wait_until(lambda: done() >= 3, timeout=90, message="the first worker to issue a few")
        os.killpg(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()
        done_when_killed = done()
        assert done_when_killed < TRAINEES, "the run had finished before the kill: nothing was tested"

        second = start_worker(queue=queue, name=f"second-{os.getpid()}@%h", env={"MEDIA_ROOT": str(media_root)})
        wait_until(lambda: selectors.batch_progress(batch=batch).finished, timeout=120, message="the second worker")
        recovered = time.monotonic() - killed_at
    finally:
        kill_worker(first)
        kill_worker(second)

    progress = selectors.batch_progress(batch=batch)
    assert (progress.done, progress.failed) == (TRAINEES, 0)
    per_trainee = dict(Certificate.objects.values("user_id").annotate(n=Count("pk")).values_list("user_id", "n"))
    assert per_trainee == {user.pk: 1 for user in trainees}  # none twice, none missing, nobody else
    assert set(Certificate.objects.values_list("state", flat=True)) == {CertificateState.ISSUED}
    for certificate in Certificate.objects.all():
        storage = storage_for_region(certificate.storage_region)  # media_root/<the trainee's region>/
        assert Path(storage.path(certificate.pdf_key)).is_file()
        assert Path(storage.path(certificate.credential_key)).is_file()
    # Every PDF on disk belongs to a certificate: a retried task rewrote its own files, and made no others.
    assert len(list(media_root.rglob("*.pdf"))) == TRAINEES
    print(f"Celery worker killed mid-certificate run: recovered in {recovered:.2f} s (the run finished by the next)")
    assert recovered < 120
