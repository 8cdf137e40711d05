"""On Redis, a real Celery worker uploads a session's recordings and then composes them into its one file, each
task queued on commit by the one before (tests/streaming/test_composition.py runs the same services in process)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from classrooms.services.sessions import session_set_state
from lms.celery import app
from lms.regions import storage_for_region
from streaming import services
from streaming.models import CompositionState, RecordingState, SessionComposition
from streaming.recording import RecordingFile, file_size_and_sha256
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.composition import played, solid, synthetic_recording
from tests.support.waiting import wait_until

SIZE = {"width": 320, "height": 240}


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_uploads_then_composes_the_session(redis_url: str, tmp_path: Path, settings: Any) -> None:
    from celery.contrib.testing.worker import start_worker

    assert app.conf.task_always_eager is False
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.MEDIA_ROOT = tmp_path / "media"
    catalogue = factories.site_catalogue()
    session = LiveSessionFactory.create(
        course=factories.course_with_lessons(catalogue, modules=1, lessons=1),
        instructor=factories.instructor(),
        rooms=[RoomFactory.create(name="Marina Bay Studio")],
        recorded=True,
    )
    start = timezone.now() - timedelta(minutes=1)
    for publisher, colour, tone in (("Marina Bay Studio", "red", 440.0), ("instructor", "green", None)):
        recording = services.recording_start(session=session, publisher=publisher, now=start)
        path = Path(recording.local_path)
        synthetic_recording(path, seconds=2, picture=solid(colour, **SIZE), tone_hz=tone, **SIZE)
        size, sha256 = file_size_and_sha256(path)
        file = RecordingFile(path=path, duration_s=2.0, size=size, sha256=sha256)
        services.recording_finish(recording_id=recording.pk, file=file, now=start + timedelta(seconds=2))
    session_set_state(session=LiveSession.objects.get(pk=session.pk), state=SessionState.ENDED)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):

        def stored() -> SessionComposition | None:
            found = SessionComposition.objects.filter(session=session).first()
            return found if found and found.state in (CompositionState.STORED, CompositionState.FAILED) else None

        composition = wait_until(stored, timeout=90, interval=0.5, message="the worker to compose the session")

    assert composition is not None and composition.state == CompositionState.STORED, composition
    assert set(session.recordings.values_list("state", flat=True)) == {RecordingState.STORED}
    with storage_for_region(composition.storage_region).open(composition.storage_key, "rb") as stored_file:
        (tmp_path / "session.mp4").write_bytes(stored_file.read())
    assert played(tmp_path / "session.mp4").duration_s == pytest.approx(2.0, abs=0.2)
