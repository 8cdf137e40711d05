"""Recording switched on and off mid-session (classrooms.services.recording): the publishers already publishing
through the real SFU (an aiortc peer on the media socket) start being recorded at once, and stop, their file kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from lms.regions import storage_for_region
from streaming.media_hubs import media_hub
from streaming.models import Recording, RecordingState
from streaming.signaling import session_key
from tests.support.media import CameraAndMicrophone, joined
from tests.support.recording import assert_plays_like, probe, recording_switched
from tests.support.waiting import wait_until_async

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("tasks_in_process", "recordings_dir"),
]


def recordings(live: Any) -> list[Recording]:
    return list(Recording.objects.filter(session=live.session).order_by("pk"))


async def test_switching_recording_on_mid_session_records_who_already_publishes_and_off_finishes_it(
    live: Any, media: Any, cameras: list[CameraAndMicrophone], tmp_path: Path
) -> None:
    # The instructor publishes in a session nobody records yet: no recording.
    teacher, welcome = await joined(media, live.instructor, live.session.pk)
    camera = CameraAndMicrophone()
    cameras.append(camera)
    await camera.publish(teacher)
    key, peer = session_key(live.session.pk), welcome["peer_id"]

    def video_flows() -> bool:
        tracks = media_hub().sfu.stats(key)["publishers"].get(peer, [])
        return any(track["kind"] == "video" and track["frames"] > 0 for track in tracks)

    await wait_until_async(video_flows, timeout=15, interval=0.1, message="video at the SFU")
    assert await sync_to_async(recordings)(live) == []

    # A moderator switches recording on: the publisher already publishing is recorded from then on.
    await recording_switched(live, True)
    [recording] = await wait_until_async(
        sync_to_async(lambda: recordings(live) or None), timeout=10, interval=0.1, message="a recording to start"
    )
    assert (recording.state, recording.publisher) == (RecordingState.RECORDING, "instructor")
    await wait_until_async(
        lambda: media_hub().sfu.is_recording(session_key=key, publisher_id=peer), timeout=10, message="the sink"
    )
    started = time.monotonic()
    await asyncio.sleep(2.5)

    # And off: the recording finishes (and is stored, as at a session's end); publishing goes on.
    await recording_switched(live, False)
    seconds = time.monotonic() - started

    def settled() -> Recording | None:
        found = Recording.objects.get(pk=recording.pk)
        return found if found.state in (RecordingState.STORED, RecordingState.FAILED) else None

    done = await wait_until_async(sync_to_async(settled), timeout=30, interval=0.1, message="the recording to end")
    assert done.state == RecordingState.STORED, done.error
    assert done.duration_s == pytest.approx(seconds, abs=1.0)
    assert not media_hub().sfu.is_recording(session_key=key, publisher_id=peer)
    assert media_hub().tracks(live.session.pk), "the instructor stopped publishing"
    assert len(await sync_to_async(recordings)(live)) == 1

    # Switched on again: a second recording of the same publisher, which plays.
    await recording_switched(live, True)
    await wait_until_async(
        sync_to_async(lambda: len(recordings(live)) == 2), timeout=10, interval=0.1, message="a second recording"
    )
    await wait_until_async(
        lambda: media_hub().sfu.is_recording(session_key=key, publisher_id=peer), timeout=10, message="the sink"
    )
    again = time.monotonic()
    await asyncio.sleep(2.0)
    await recording_switched(live, False)
    seconds = time.monotonic() - again
    second = (await sync_to_async(recordings)(live))[1]

    def second_settled() -> Recording | None:
        found = Recording.objects.get(pk=second.pk)
        return found if found.state in (RecordingState.STORED, RecordingState.FAILED) else None

    stored = await wait_until_async(sync_to_async(second_settled), timeout=30, interval=0.1, message="the second")
    assert stored.state == RecordingState.STORED, stored.error
    local = tmp_path / "played.webm"
    with storage_for_region(stored.storage_region).open(stored.storage_key, "rb") as stored_file:
        local.write_bytes(stored_file.read())
    assert_plays_like(probe(local), seconds)
