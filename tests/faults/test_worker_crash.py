"""A Celery worker killed mid-task (issue 15, faults survived), for the recording upload and for the composition:
the worker is SIGKILLed while the task runs, the broker hands the unacknowledged task to a new worker, and its effect
happens once: one stored object of the right checksum, one composition row done, one composed file."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from classrooms.services.sessions import session_set_state
from lms.celery import app
from streaming import services
from streaming.models import CompositionState, Recording, RecordingState, SessionComposition
from streaming.recording import RecordingFile, file_size_and_sha256
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.composition import played, solid, synthetic_recording
from tests.support.s3 import BUCKET
from tests.support.waiting import wait_until
from tests.support.workers import kill_worker, start_worker

pytestmark = [
    pytest.mark.real_worker,
    pytest.mark.serial,
    # Serialized rollback: the flush after a transactional test would take the page tree root with it.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PART_SIZE = 5 * 1024 * 1024  # S3's smallest multipart part
RECOVERY_BOUND_SECONDS = 30.0


@pytest.fixture
def worker_env(redis_url: str, s3_storage: Any, s3_endpoint: str, settings: Any, tmp_path: Path) -> dict[str, str]:
    """The workers' environment: the test database, the broker, the S3 bucket and the recordings folder."""
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database: needs DATABASE_URL (PostgreSQL)")
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.RECORDING_UPLOAD_PART_SIZE = PART_SIZE
    return {
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "RECORDING_UPLOAD_PART_SIZE": str(PART_SIZE),
    }


def recorded_session(**kwargs: Any) -> LiveSession:
    session: LiveSession = LiveSessionFactory.create(
        course=factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1),
        instructor=factories.instructor(),
        rooms=[RoomFactory.create(name="Marina Bay Studio")],
        recorded=True,
        **kwargs,
    )
    return session


def stored_objects(client: Any) -> list[dict[str, Any]]:
    return list(client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_recording_upload_killed_midway_is_stored_once(worker_env: dict[str, str], s3_storage: Any) -> None:
    queue = str(app.conf.task_default_queue)
    session = recorded_session()
    recording = services.recording_start(session=session, publisher="instructor", now=timezone.now())
    path = Path(recording.local_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(24 * PART_SIZE))  # 120 MB: long enough to be killed in the middle of
    size, sha256 = file_size_and_sha256(path)

    first = start_worker(queue=queue, name=f"upload-first-{os.getpid()}@%h", env=worker_env)
    second = None
    try:
        # Queued on commit; the first worker takes it and starts a multipart upload.
        services.recording_finish(
            recording_id=recording.pk, file=RecordingFile(path=path, duration_s=60.0, size=size, sha256=sha256)
        )
        wait_until(
            lambda: s3_storage.list_multipart_uploads(Bucket=BUCKET).get("Uploads"),
            timeout=60,
            interval=0.02,
            message="the first worker to start uploading",
        )
        kill_worker(first)
        killed_at = time.monotonic()
        assert Recording.objects.get(pk=recording.pk).state != RecordingState.STORED, "stored before the kill"

        second = start_worker(queue=queue, name=f"upload-second-{os.getpid()}@%h", env=worker_env)
        wait_until(
            lambda: Recording.objects.get(pk=recording.pk).state == RecordingState.STORED,
            timeout=90,
            interval=0.1,
            message="the second worker to store the recording",
        )
        recovered = time.monotonic() - killed_at
    finally:
        kill_worker(first)
        kill_worker(second)

    recording.refresh_from_db()
    objects = stored_objects(s3_storage)
    assert [item["Key"] for item in objects] == [recording.storage_key], "exactly one stored object"
    body = s3_storage.get_object(Bucket=BUCKET, Key=recording.storage_key)["Body"].read()
    assert (len(body), hashlib.sha256(body).hexdigest()) == (size, sha256)
    assert recording.upload_attempts == 2
    assert not path.exists(), "the local copy is removed once stored"
    # The killed worker's unfinished multipart upload was aborted by the next attempt: no parts left to pay for.
    assert not s3_storage.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    print(f"Celery worker killed mid-upload: recovered in {recovered:.2f} s (stored once, by the next worker)")
    assert recovered < RECOVERY_BOUND_SECONDS


def test_a_composition_killed_midway_is_composed_once(worker_env: dict[str, str], s3_storage: Any) -> None:
    queue = str(app.conf.task_default_queue)
    session = recorded_session()
    start = timezone.now() - timedelta(minutes=1)
    size = {"width": 320, "height": 240}
    for publisher, colour, tone in (("Marina Bay Studio", "red", 440.0), ("instructor", "green", None)):
        recording = services.recording_start(session=session, publisher=publisher, now=start)
        path = Path(recording.local_path)
        synthetic_recording(path, seconds=8, picture=solid(colour, **size), tone_hz=tone, **size)
        file_size, sha256 = file_size_and_sha256(path)
        file = RecordingFile(path=path, duration_s=8.0, size=file_size, sha256=sha256)
        services.recording_finish(recording_id=recording.pk, file=file, now=start + timedelta(seconds=8))
    # The uploads are queued; the session's end has its composition follow them.
    session_set_state(session=LiveSession.objects.get(pk=session.pk), state=SessionState.ENDED)

    def composing() -> bool:
        found = SessionComposition.objects.filter(session=session).first()
        return found is not None and found.state == CompositionState.COMPOSING and found.progress > 0

    first = start_worker(queue=queue, name=f"compose-first-{os.getpid()}@%h", env=worker_env)
    second = None
    try:
        wait_until(composing, timeout=120, interval=0.02, message="the first worker to be composing")
        kill_worker(first)
        killed_at = time.monotonic()

        second = start_worker(queue=queue, name=f"compose-second-{os.getpid()}@%h", env=worker_env)

        def settled() -> SessionComposition | None:
            found = SessionComposition.objects.get(session=session)
            return found if found.state in (CompositionState.STORED, CompositionState.FAILED) else None

        composition = wait_until(settled, timeout=90, interval=0.1, message="the second worker to compose")
        recovered = time.monotonic() - killed_at
    finally:
        kill_worker(first)
        kill_worker(second)

    assert composition is not None
    assert composition.state == CompositionState.STORED, composition.error
    assert SessionComposition.objects.filter(session=session).count() == 1
    assert composition.attempts == 2  # the killed run, and the one that took over from it
    composed = [item["Key"] for item in stored_objects(s3_storage) if item["Key"] == composition.storage_key]
    assert composed == [composition.storage_key], "exactly one composed file"
    body = s3_storage.get_object(Bucket=BUCKET, Key=composition.storage_key)["Body"].read()
    assert (len(body), hashlib.sha256(body).hexdigest()) == (composition.size, composition.sha256)
    stored = Path(worker_env["RECORDINGS_DIR"]) / "session.mp4"
    stored.write_bytes(body)
    assert played(stored).duration_s == pytest.approx(8.0, abs=0.3)
    assert set(session.recordings.values_list("state", flat=True)) == {RecordingState.STORED}
    print(f"Celery worker killed mid-composition: recovered in {recovered:.2f} s (composed once, by the next worker)")
    assert recovered < RECOVERY_BOUND_SECONDS
