"""Recordings go to storage (S3 over HTTP, here moto's server) verified, and only then leave local disk."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from django.core.files.storage import storages

from classrooms.models import SessionState
from classrooms.services.sessions import session_set_state
from lms.files import S3Writer
from lms.regions import storage_for_region
from streaming import selectors, services
from streaming.models import Recording, RecordingState
from streaming.recording import RecordingFile, WebmRecorder
from streaming.services import CONTENT_TYPE, RecordingUploadError
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.recording import record_synthetic
from tests.support.s3 import BUCKET, storages_on_bucket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process", "recordings_dir")]


@pytest.fixture
def session(catalogue: Any) -> Any:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    return LiveSessionFactory.create(
        course=course, instructor=factories.instructor(), rooms=[RoomFactory.create(name="SG-1")]
    )


def recorded(session: Any, capture: Callable[..., Any], *, seconds: float = 2.0) -> Recording:
    """A recording the SFU wrote and closed, its upload queued (and, eagerly, run) on commit."""
    recording = services.recording_start(session=session, publisher="SG-1")
    file = record_synthetic(Path(recording.local_path), seconds=seconds)
    with capture(execute=True):
        services.recording_finish(recording_id=recording.pk, file=file)
    recording.refresh_from_db()
    return recording


def objects(client: Any) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_a_finished_recording_is_uploaded_verified_and_removed_locally(
    s3_storage: Any, session: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recording = recorded(session, django_capture_on_commit_callbacks)

    assert recording.state == RecordingState.STORED
    assert recording.upload_attempts == 1
    assert not Path(recording.local_path).exists()
    assert objects(s3_storage) == [recording.storage_key]
    head = s3_storage.head_object(Bucket=BUCKET, Key=recording.storage_key, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == recording.sha256
    assert head["ContentType"] == "video/webm"
    assert head["ChecksumSHA256"]  # S3 checked every part's SHA-256 on arrival

    # Played back from storage through the short-lived signed URL a viewer gets.
    url = selectors.recording_signed_url(recording=recording, user=factories.trainee())
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url) as response:
        data = response.read()
    assert hashlib.sha256(data).hexdigest() == recording.sha256
    copy = Path(recording.local_path).with_name("downloaded.webm")
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(data)
    with av.open(str(copy)) as container:
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(2.0, abs=0.1)
        assert sum(1 for _ in container.decode(video=0)) == 60
    assert recording.duration_s == pytest.approx(2.0, abs=0.1)


def test_a_large_recording_goes_up_in_checksummed_parts(
    s3_storage: Any, session: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.RECORDING_UPLOAD_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part
    recording = services.recording_start(session=session, publisher="SG-1")
    path = Path(recording.local_path)
    path.parent.mkdir(parents=True)
    payload = os.urandom(12 * 1024 * 1024)
    path.write_bytes(payload)
    size, sha256 = len(payload), hashlib.sha256(payload).hexdigest()
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_finish(
            recording_id=recording.pk, file=RecordingFile(path=path, duration_s=60, size=size, sha256=sha256)
        )
    recording.refresh_from_db()
    assert recording.state == RecordingState.STORED
    head = s3_storage.head_object(Bucket=BUCKET, Key=recording.storage_key, ChecksumMode="ENABLED", PartNumber=1)
    assert head["PartsCount"] == 3
    # S3's composite checksum: the SHA-256 of the parts' SHA-256s (with "-3" on AWS).
    part = settings.RECORDING_UPLOAD_PART_SIZE
    digests = b"".join(hashlib.sha256(payload[i : i + part]).digest() for i in range(0, size, part))
    whole = s3_storage.head_object(Bucket=BUCKET, Key=recording.storage_key, ChecksumMode="ENABLED")
    assert whole["ChecksumSHA256"].split("-")[0] == base64.b64encode(hashlib.sha256(digests).digest()).decode()
    stored = s3_storage.get_object(Bucket=BUCKET, Key=recording.storage_key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == sha256


def test_a_failed_upload_keeps_the_local_file_and_a_retry_stores_it(
    s3_storage: Any, session: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    good_storages = settings.STORAGES
    settings.STORAGES = storages_on_bucket(good_storages, "gone")
    recording = services.recording_start(session=session, publisher="SG-1")
    file = record_synthetic(Path(recording.local_path), seconds=1.0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.recording_finish(recording_id=recording.pk, file=file)
    assert len(callbacks) == 1  # the upload is queued only once the transaction commits

    with pytest.raises(RecordingUploadError):
        services.recording_upload(recording_id=recording.pk)
    recording.refresh_from_db()
    assert recording.state == RecordingState.FAILED
    assert "NoSuchBucket" in recording.error
    assert Path(recording.local_path).read_bytes()  # still there, untouched
    assert hashlib.sha256(Path(recording.local_path).read_bytes()).hexdigest() == recording.sha256
    assert objects(s3_storage) == []

    settings.STORAGES = good_storages  # the bucket is back: the session-end sweep retries
    with django_capture_on_commit_callbacks(execute=True):
        assert services.session_recordings_upload(session=session) == [recording.pk]
    recording.refresh_from_db()
    assert recording.state == RecordingState.STORED and recording.error == ""
    assert recording.upload_attempts == 2
    assert objects(s3_storage) == [recording.storage_key]
    assert not Path(recording.local_path).exists()


def test_a_retry_after_a_crash_mid_upload_leaves_one_object(
    s3_storage: Any, session: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recording = services.recording_start(session=session, publisher="SG-1")
    file = record_synthetic(Path(recording.local_path), seconds=1.0)
    with django_capture_on_commit_callbacks(execute=False):
        services.recording_finish(recording_id=recording.pk, file=file)
    # A worker died halfway through a multipart upload (a part sent, never completed) ...
    started = s3_storage.create_multipart_upload(Bucket=BUCKET, Key=recording.storage_key, ChecksumAlgorithm="SHA256")
    s3_storage.upload_part(
        Bucket=BUCKET, Key=recording.storage_key, UploadId=started["UploadId"], PartNumber=1, Body=b"partial"
    )
    # ... and another died after completing one, before recording it in the database.
    target = S3Writer(storage=storages["default"], part_size=settings.RECORDING_UPLOAD_PART_SIZE)
    target.upload(
        key=recording.storage_key, path=file.path, size=file.size, sha256=file.sha256, content_type=CONTENT_TYPE
    )
    modified = s3_storage.head_object(Bucket=BUCKET, Key=recording.storage_key)["LastModified"]

    stored = services.recording_upload(recording_id=recording.pk)
    assert stored.state == RecordingState.STORED
    assert objects(s3_storage) == [recording.storage_key]
    # Recognised as already stored: not sent again.
    assert s3_storage.head_object(Bucket=BUCKET, Key=recording.storage_key)["LastModified"] == modified

    # Running again (a duplicate delivery) changes nothing.
    assert services.recording_upload(recording_id=recording.pk).state == RecordingState.STORED
    assert objects(s3_storage) == [recording.storage_key]


def test_a_stored_recording_whose_local_file_survived_a_crash_is_cleaned_up(
    s3_storage: Any, session: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recording = recorded(session, django_capture_on_commit_callbacks, seconds=1.0)
    leftover = Path(recording.local_path)
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"left behind by a worker that died after committing")
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_upload(recording_id=recording.pk)
    assert not leftover.exists()
    assert objects(s3_storage) == [recording.storage_key]


def test_a_changed_local_file_is_not_uploaded(
    s3_storage: Any, session: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recording = services.recording_start(session=session, publisher="SG-1")
    file = record_synthetic(Path(recording.local_path), seconds=1.0)
    with django_capture_on_commit_callbacks(execute=False):
        services.recording_finish(recording_id=recording.pk, file=file)
    with Path(recording.local_path).open("ab") as damaged:
        damaged.write(b"\x00")
    with pytest.raises(RecordingUploadError):
        services.recording_upload(recording_id=recording.pk)
    recording.refresh_from_db()
    assert recording.state == RecordingState.FAILED and "changed" in recording.error
    assert objects(s3_storage) == []


def test_local_storage_keeps_recordings_under_media(session: Any, django_capture_on_commit_callbacks: Any) -> None:
    recording = recorded(session, django_capture_on_commit_callbacks, seconds=1.0)
    assert recording.state == RecordingState.STORED
    storage = storage_for_region(recording.storage_region)
    assert storage.exists(recording.storage_key)
    with storage.open(recording.storage_key, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == recording.sha256
    assert not Path(recording.local_path).exists()
    # Again: the same file, not a second copy beside it.
    services.recording_upload(recording_id=recording.pk)
    assert storage.listdir(str(Path(recording.storage_key).parent))[1] == [Path(recording.storage_key).name]


def test_an_empty_recording_is_not_uploaded(session: Any, django_capture_on_commit_callbacks: Any) -> None:
    recording = services.recording_start(session=session, publisher="instructor")
    file = WebmRecorder(Path(recording.local_path)).close()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.recording_finish(recording_id=recording.pk, file=file)
    recording.refresh_from_db()
    assert recording.state == RecordingState.FAILED and callbacks == []


def test_recording_policy(session: Any) -> None:
    assert not selectors.session_is_recorded(session_id=session.pk)
    services.session_recording_set(session=session, record=True)
    assert selectors.session_is_recorded(session_id=session.pk)
    services.session_recording_set(session=session, record=False)
    assert not selectors.session_is_recorded(session_id=session.pk)


def test_ending_a_session_that_was_never_recorded_queues_no_recording_work(
    session: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        session_set_state(session=session, state=SessionState.ENDED)
    # The session.state broadcast and the word to the rooms' agents, nothing for recordings.
    assert sorted(callback.__module__ for callback in callbacks) == [
        "classrooms.realtime",
        "classrooms.services.devices",
    ]

    services.session_recording_set(session=session, record=True)
    assert not selectors.session_is_recorded(session_id=session.pk)  # an ended session records no one
