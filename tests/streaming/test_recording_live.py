"""A recorded session end to end: a real aiortc publisher through the media socket, the SFU's recorder, the
session ended through its service, the upload task to S3 (moto's server), and the file played back from there."""

from __future__ import annotations

import asyncio
import hashlib
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from classrooms.models import SessionState
from streaming import services
from streaming.live_recordings import RecordingSink
from streaming.media_hubs import media_hub
from streaming.models import CompositionState, Recording, RecordingState, SessionComposition
from streaming.recording import RecordingError, RecordingFile, WebmRecorder
from streaming.signaling import session_key
from streaming.tasks import upload_session_recordings
from tests.support.live import LiveClient
from tests.support.media import CameraAndMicrophone, joined
from tests.support.recording import assert_plays_like, end_session, probe
from tests.support.s3 import BUCKET, storages_on_bucket
from tests.support.waiting import wait_until_async

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("tasks_in_process", "recordings_dir"),
]

RECORD_SECONDS = 3.0


async def recorded_session(live: Any, media: Any, cameras: list[CameraAndMicrophone]) -> tuple[LiveClient, str]:
    """The instructor publishes into a live, recorded session; returns once media reaches the SFU."""
    await sync_to_async(services.session_recording_set)(session=live.session, record=True)
    assert live.session.state == SessionState.LIVE
    teacher, welcome = await joined(media, live.instructor, live.session.pk)
    camera = CameraAndMicrophone()
    cameras.append(camera)
    answer = await camera.publish(teacher)
    assert sorted(track["kind"] for track in answer["tracks"]) == ["audio", "video"]
    # The recording exists from the publish on; the file fills once media flows.
    [recording] = [found async for found in Recording.objects.filter(session=live.session)]
    assert (recording.state, recording.publisher) == (RecordingState.RECORDING, "instructor")

    stats = media_hub().sfu.stats
    key, peer = session_key(live.session.pk), welcome["peer_id"]

    def video_flows() -> bool:
        tracks = stats(key)["publishers"].get(peer, [])
        return any(track["kind"] == "video" and track["frames"] > 0 for track in tracks)

    await wait_until_async(video_flows, timeout=15, interval=0.1, message="video at the SFU")
    return teacher, peer


def settled(session: Any) -> Recording | None:
    recording = Recording.objects.filter(session=session).first()
    return recording if recording and recording.state in (RecordingState.STORED, RecordingState.FAILED) else None


def composed(session: Any) -> SessionComposition | None:
    composition = SessionComposition.objects.filter(session=session).first()
    return composition if composition and composition.state == CompositionState.STORED else None


def played_back(data: bytes, path: Path) -> dict[str, Any]:
    """What PyAV finds in the stored file: duration, streams, decoded frames (tests/support/recording.py)."""
    path.write_bytes(data)
    return probe(path)


def course_page_links(live: Any, user: Any) -> tuple[str, str]:
    """What `user` finds on the course page, and where its recording link leads."""
    client = Client()
    client.force_login(user)
    html = client.get(live.course.url).content.decode()
    recording = Recording.objects.get(session=live.session)
    watch = reverse("streaming:recording-watch", kwargs={"recording_id": recording.pk})
    assert f'href="{watch}"' in html, "the course page does not list the recording"
    redirect = client.get(watch)
    assert redirect.status_code == 302
    return html, redirect["Location"]


async def test_a_recorded_session_is_stored_on_s3_when_it_ends_and_plays_back(
    live: Any, media: Any, cameras: list[CameraAndMicrophone], s3_storage: Any, tmp_path: Path
) -> None:
    await recorded_session(live, media, cameras)
    started = time.monotonic()
    await asyncio.sleep(RECORD_SECONDS)
    await end_session(live)
    seconds = time.monotonic() - started

    recording = await wait_until_async(
        sync_to_async(lambda: settled(live.session)), timeout=30, interval=0.1, message="the upload"
    )
    assert recording.state == RecordingState.STORED, recording.error
    assert not Path(recording.local_path).exists()  # removed once the upload was confirmed
    # The session's one composed file follows its last upload (tests/streaming/test_composition.py).
    composition = await wait_until_async(
        sync_to_async(lambda: composed(live.session)), timeout=60, interval=0.2, message="the composition"
    )
    keys = {item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {recording.storage_key, composition.storage_key}
    head = s3_storage.head_object(Bucket=BUCKET, Key=recording.storage_key, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == recording.sha256 and head["ChecksumSHA256"]

    # Staff find the publisher's own file on the course page (trainees get the composed one); its signed link
    # serves the file.
    html, url = await sync_to_async(course_page_links)(live, live.instructor)
    assert live.session.title in html
    with urllib.request.urlopen(url) as response:
        data = response.read()
    assert hashlib.sha256(data).hexdigest() == recording.sha256
    played = played_back(data, tmp_path / "downloaded.webm")
    assert_plays_like(played, seconds)
    assert recording.duration_s == pytest.approx(played["duration"], abs=0.2)

    # The publisher is still connected; the session's end stopped only the recording.
    assert media_hub().tracks(live.session.pk)


async def test_a_publisher_who_leaves_mid_session_closes_its_file(
    live: Any, media: Any, cameras: list[CameraAndMicrophone], s3_storage: Any, tmp_path: Path
) -> None:
    teacher, _ = await recorded_session(live, media, cameras)
    started = time.monotonic()
    await asyncio.sleep(2.0)
    seconds = time.monotonic() - started
    # The instructor's page goes away. (Leaving closes the file, which in process also runs the upload: wait.)
    await teacher.communicator.disconnect(timeout=60)

    recording = await wait_until_async(
        sync_to_async(lambda: settled(live.session)), timeout=30, interval=0.1, message="the upload"
    )
    assert recording.state == RecordingState.STORED, recording.error
    assert not Path(recording.local_path).exists()
    data = s3_storage.get_object(Bucket=BUCKET, Key=recording.storage_key)["Body"].read()
    assert_plays_like(played_back(data, tmp_path / "left.webm"), seconds)

    # Ending the session afterwards uploads nothing more; it composes the session's one file.
    await end_session(live)
    assert await sync_to_async(upload_session_recordings)(live.session.pk) == []
    composition = await wait_until_async(
        sync_to_async(lambda: composed(live.session)), timeout=60, interval=0.2, message="the composition"
    )
    keys = {item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {recording.storage_key, composition.storage_key}


async def test_a_failed_upload_keeps_the_local_file_and_can_be_retried(
    live: Any, media: Any, cameras: list[CameraAndMicrophone], s3_storage: Any, settings: Any
) -> None:
    good = settings.STORAGES
    settings.STORAGES = storages_on_bucket(good, "no-such-bucket")
    await recorded_session(live, media, cameras)
    await asyncio.sleep(1.5)
    await end_session(live)

    recording = await wait_until_async(
        sync_to_async(lambda: settled(live.session)), timeout=30, interval=0.1, message="the upload attempt"
    )
    assert recording.state == RecordingState.FAILED
    assert "NoSuchBucket" in recording.error
    assert recording.upload_attempts >= 1
    local = Path(recording.local_path)
    assert hashlib.sha256(local.read_bytes()).hexdigest() == recording.sha256  # kept, whole
    assert "Contents" not in s3_storage.list_objects_v2(Bucket=BUCKET)

    # The bucket is back: the session's sweep (the task the session's end queued) stores it.
    settings.STORAGES = good
    assert await sync_to_async(upload_session_recordings)(live.session.pk) == [recording.pk]
    await sync_to_async(recording.refresh_from_db)()
    assert recording.state == RecordingState.STORED and recording.error == ""
    assert not local.exists()


def test_a_recorder_that_fails_leaves_its_recording_failed_and_not_uploaded(live: Any, s3_storage: Any) -> None:
    class FullDisk(WebmRecorder):
        def close(self) -> RecordingFile:
            super().close()
            raise RecordingError("No space left on device")

    services.session_recording_set(session=live.session, record=True)
    recording = services.recording_start(session=live.session, publisher="instructor")
    sink = RecordingSink(recording_id=recording.pk, recorder=FullDisk(recording.local_path))
    with ThreadPoolExecutor(1) as worker:  # as the Sfu closes sinks: in a worker thread
        worker.submit(sink.close).result()

    recording.refresh_from_db()
    assert recording.state == RecordingState.FAILED
    assert recording.error == "The recorder failed: No space left on device"
    assert services.session_recordings_upload(session=live.session) == []  # no finished file to retry
    assert "Contents" not in s3_storage.list_objects_v2(Bucket=BUCKET)
