"""On Redis, a real Celery worker runs the retention tasks beat schedules (`classrooms.tasks.expire_live_data`,
`streaming.tasks.expire_recordings`): what is past its age goes, stored files included, and what must stay stays
(tests/classrooms/test_retention.py and tests/streaming/test_recording_retention.py run the same in process)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from classrooms import tasks as classroom_tasks
from classrooms.models import AttendanceRecord, AttendanceSource, AttendanceStay, LiveEvent, LiveSession, SessionState
from lms.celery import app
from lms.settings.celery import CELERY_BEAT_SCHEDULE
from streaming import tasks as streaming_tasks
from streaming.models import Recording, RecordingState
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, enrol


def ended(course: Any, *, days_ago: int) -> LiveSession:
    starts = timezone.now() - timedelta(days=days_ago, hours=2)
    session = LiveSessionFactory.create(
        course=course, instructor=factories.instructor(), starts_at=starts, ends_at=starts + timedelta(hours=1)
    )
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.ENDED, live_until=starts + timedelta(hours=1))
    return session


def left_behind(session: LiveSession, trainee: Any) -> str:
    """An event, a 30-minute stay and a stored recording; returns the recording's key in storage."""
    record = AttendanceRecord.objects.create(session=session, user=trainee)
    start = session.starts_at
    AttendanceStay.objects.create(
        record=record,
        source=AttendanceSource.REMOTE,
        started_at=start,
        last_seen_at=start + timedelta(minutes=30),
        ended_at=start + timedelta(minutes=30),
    )
    event = LiveEvent.objects.create(session=session, kind="question.created", payload={})
    LiveEvent.objects.filter(pk=event.pk).update(created_at=start)
    key = default_storage.save(f"recordings/{session.pk}/room.webm", ContentFile(b"webm"))
    Recording.objects.create(
        session=session, publisher="room", state=RecordingState.STORED, storage_key=key, started_at=start
    )
    return key


def test_beat_schedules_the_retention_tasks() -> None:
    tasks = {entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()}
    assert {"classrooms.tasks.expire_live_data", "streaming.tasks.expire_recordings"} <= tasks


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_applies_retention(redis_url: str, tmp_path: Path, settings: Any) -> None:
    from celery.contrib.testing.worker import start_worker

    assert app.conf.task_always_eager is False
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RETENTION_LIVE_EVENTS_DAYS = 30
    settings.RETENTION_ATTENDANCE_DETAIL_DAYS = 30
    settings.RETENTION_RECORDINGS_DAYS = 30
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    trainee = factories.trainee()
    enrol(trainee, course)
    old, recent = ended(course, days_ago=40), ended(course, days_ago=5)
    old_key, recent_key = left_behind(old, trainee), left_behind(recent, trainee)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        live_data = classroom_tasks.expire_live_data.delay().get(timeout=60)
        recordings = streaming_tasks.expire_recordings.delay().get(timeout=60)

    assert live_data == {"live_events": 1, "attendance_detail": 1}
    assert recordings == 1
    assert not default_storage.exists(old_key) and default_storage.exists(recent_key)
    assert list(LiveEvent.objects.values_list("session_id", flat=True)) == [recent.pk]
    assert list(AttendanceStay.objects.values_list("record__session_id", flat=True)) == [recent.pk]
    assert AttendanceRecord.objects.get(session=old).attended_seconds == 30 * 60
    assert list(Recording.objects.values_list("session_id", flat=True)) == [recent.pk]
