"""Recordings past RETENTION_RECORDINGS_DAYS (beat's `streaming.tasks.expire_recordings`): each publisher's
recording and the session's composed file go, rows and objects in storage (S3 over HTTP, moto's server), and local
files; recent sessions' stay; 0 keeps them forever; the course page tells when they go."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from lms.regions import storage_for_region
from streaming import services, tasks
from streaming.models import CompositionState, Recording, RecordingState, SessionComposition
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, enrol
from tests.support.s3 import BUCKET, REGION_BUCKETS, bucket_keys

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(autouse=True)
def recordings_kept_30_days(recordings_dir: Path, settings: Any) -> None:
    settings.RETENTION_RECORDINGS_DAYS = 30


def ended(course: Any, *, days_ago: int) -> LiveSession:
    starts = NOW - timedelta(days=days_ago, hours=2)
    session = LiveSessionFactory.create(
        course=course, instructor=factories.instructor(), starts_at=starts, ends_at=starts + timedelta(hours=1)
    )
    LiveSession.objects.filter(pk=session.pk).update(
        state=SessionState.ENDED, live_since=starts, live_until=starts + timedelta(hours=1)
    )
    session.refresh_from_db()
    return session


def recorded(session: LiveSession, recordings_dir: Path) -> dict[str, Any]:
    """Two stored publishers' recordings, one failed upload still on local disk, and the composed file."""
    keys = []
    for publisher in ("SG-1", "instructor"):
        key = default_storage.save(
            f"recordings/{session.pk}/{publisher}.webm", ContentFile(b"webm " + publisher.encode())
        )
        Recording.objects.create(
            session=session,
            publisher=publisher,
            state=RecordingState.STORED,
            storage_key=key,
            started_at=session.starts_at,
            stored_at=session.ends_at,
        )
        keys.append(key)
    local = recordings_dir / str(session.pk) / "CQ-1.webm"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(b"webm CQ-1")
    Recording.objects.create(
        session=session,
        publisher="CQ-1",
        state=RecordingState.FAILED,
        local_path=str(local),
        started_at=session.starts_at,
    )
    composed = default_storage.save(f"compositions/{session.pk}.mp4", ContentFile(b"mp4"))
    SessionComposition.objects.create(
        session=session, state=CompositionState.STORED, storage_key=composed, progress=100
    )
    return {"keys": [*keys, composed], "local": local}


def objects(client: Any) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_old_recordings_are_deleted_from_storage_and_recent_ones_kept(
    s3_storage: Any, recordings_dir: Path, catalogue: Any
) -> None:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    old, recent = ended(course, days_ago=40), ended(course, days_ago=5)
    gone, kept = recorded(old, recordings_dir), recorded(recent, recordings_dir)
    assert set(gone["keys"]) | set(kept["keys"]) == objects(s3_storage)

    assert tasks.expire_recordings() == 4  # three recordings and the composition of the old session

    assert objects(s3_storage) == set(kept["keys"])
    assert not Path(gone["local"]).exists() and Path(kept["local"]).exists()
    assert not Recording.objects.filter(session=old).exists()
    assert not SessionComposition.objects.filter(session=old).exists()
    assert Recording.objects.filter(session=recent).count() == 3
    assert SessionComposition.objects.filter(session=recent).exists()
    # Idempotent.
    assert tasks.expire_recordings() == 0
    assert objects(s3_storage) == set(kept["keys"])


def test_a_run_that_died_after_deleting_files_finishes_the_rows_next_time(
    s3_storage: Any, recordings_dir: Path, catalogue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    old, recent = ended(course, days_ago=40), ended(course, days_ago=5)
    recorded(old, recordings_dir)
    kept = recorded(recent, recordings_dir)
    real_delete = services._stored_file_delete
    deleted: list[str] = []

    def dies_after_two(*, storage_key: str, storage_region: str, local_path: str) -> None:
        if len(deleted) == 2:
            raise RuntimeError("the worker died")
        real_delete(storage_key=storage_key, storage_region=storage_region, local_path=local_path)
        deleted.append(storage_key)

    monkeypatch.setattr(services, "_stored_file_delete", dies_after_two)
    with pytest.raises(RuntimeError):
        tasks.expire_recordings()
    # Nothing of the recent session was touched; the old session's rows are still there, some files gone.
    assert objects(s3_storage) >= set(kept["keys"])
    assert Recording.objects.filter(session=old).count() == 3
    monkeypatch.undo()
    assert tasks.expire_recordings() == 4
    assert objects(s3_storage) == set(kept["keys"])
    assert Recording.objects.filter(session=recent).count() == 3


def test_zero_keeps_recordings_forever(s3_storage: Any, recordings_dir: Path, catalogue: Any, settings: Any) -> None:
    settings.RETENTION_RECORDINGS_DAYS = 0
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    stored = recorded(ended(course, days_ago=400), recordings_dir)
    assert tasks.expire_recordings() == 0
    assert objects(s3_storage) == set(stored["keys"])


def test_the_course_page_says_until_when_a_recording_is_kept(
    recordings_dir: Path, catalogue: Any, settings: Any
) -> None:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    session = ended(course, days_ago=5)
    recorded(session, recordings_dir)
    trainee = factories.trainee()
    enrol(trainee, course)
    assert session.live_until is not None
    until = timezone.localtime(session.live_until + timedelta(days=30), timezone.get_fixed_timezone(8 * 60))
    for reader in (factories.administrator(), trainee):
        client = Client()
        client.force_login(reader)
        html = client.get(course.url).content.decode()
        assert f"Kept until {until:%Y-%m-%d}, then deleted." in html
    settings.RETENTION_RECORDINGS_DAYS = 0
    assert "Kept until" not in client.get(course.url).content.decode()


def test_a_recording_kept_in_a_region_is_deleted_from_that_regions_storage(
    region_buckets: Any, recordings_dir: Path, catalogue: Any
) -> None:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    old, recent = ended(course, days_ago=40), ended(course, days_ago=5)
    chongqing = storage_for_region("chongqing")
    keys = {}
    for session in (old, recent):
        key = chongqing.save(f"recordings/{session.pk}/JFB.webm", ContentFile(b"webm"))
        Recording.objects.create(
            session=session,
            publisher="JFB",
            state=RecordingState.STORED,
            storage_key=key,
            storage_region="chongqing",
            started_at=session.starts_at,
        )
        keys[session.pk] = key
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == set(keys.values())

    assert tasks.expire_recordings() == 1
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == {keys[recent.pk]}
    assert list(Recording.objects.values_list("session_id", flat=True)) == [recent.pk]
