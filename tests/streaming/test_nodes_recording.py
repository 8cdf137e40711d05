"""Recording through an SFU node (SFU_MODE "nodes"): the node process records, into the test's database.

The node is another process: it sets up Django (SFU_NODE_RECORDINGS, on by default) against the test database,
so the test is transactional and needs PostgreSQL (and Redis, which the nodes need anyway).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from lms.regions import storage_for_region
from streaming import services
from streaming.models import Recording, RecordingState
from streaming.tasks import upload_session_recordings
from tests.support.media import CameraAndMicrophone, joined
from tests.support.nodes import Nodes, no_sfu_here, nodes_running
from tests.support.recording import assert_plays_like, end_session, probe
from tests.support.waiting import wait_until_async

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("tasks_in_process", "close_remote_media_hub"),
]

RECORD_SECONDS = 3.0


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the SFU node records into the test database: needs DATABASE_URL (PostgreSQL)")


def node_database_url() -> str:
    """The test database, as a DATABASE_URL for the node process."""
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


@pytest.fixture
def recording_node(redis_url: str, postgres: None, settings: Any, tmp_path: Path) -> Iterator[tuple[Nodes, str]]:
    """One node that records: into the test database, its files under tmp_path; its Celery tasks go to a queue of
    this run's own (no worker listens), returned with the node and emptied afterwards."""
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.MEDIA_ROOT = tmp_path / "media"
    queue = f"corridor-test-recordings-{uuid.uuid4().hex[:10]}"
    env = {
        "SFU_NODE_RECORDINGS": "1",
        "DJANGO_SETTINGS_MODULE": "lms.settings.test",
        "DATABASE_URL": node_database_url(),
        "DATABASE_POOL": "false",
        "RECORDINGS_DIR": str(settings.RECORDINGS_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_QUEUE": queue,
    }
    with nodes_running(names=("rec",), redis_url=redis_url, settings=settings, tmp_path=tmp_path, env=env) as nodes:
        try:
            yield nodes, queue
        finally:
            for key in nodes.redis.scan_iter(match=f"*{queue}*"):
                nodes.redis.delete(key)


def queued_tasks(nodes: Nodes, queue: str) -> list[tuple[str, Any]]:
    """The tasks waiting in `queue` (kombu's Redis transport: a list of JSON messages): (name, args)."""
    messages = [json.loads(raw) for raw in nodes.redis.lrange(queue, 0, -1)]
    return [(message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0]) for message in messages]


async def test_a_session_recorded_on_a_node_is_stored_when_it_ends_and_plays_back(
    recording_node: tuple[Nodes, str], live: Any, media: Any, cameras: list[CameraAndMicrophone], tmp_path: Path
) -> None:
    """The publisher's media goes through the node, which writes the file and the `Recording` row. Ending the
    session (in this process) tells the media sockets, which ask the node to close its recorders; the node then
    finishes the recording and queues its upload. The node has REDIS_URL, so its Celery is not eager: the upload
    waits in the node's queue, where no worker listens in the test. This process checks it was queued, then runs
    the session's sweep (the task the session's end queues) in process, which uploads it to local storage."""
    nodes, queue = recording_node
    [node] = nodes.nodes
    await sync_to_async(services.session_recording_set)(session=live.session, record=True)
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    camera = CameraAndMicrophone()
    cameras.append(camera)
    answer = await camera.publish(teacher)
    assert sorted(track["kind"] for track in answer["tracks"]) == ["audio", "video"]
    assert nodes.pinned(live.session.pk) == node.node_id
    # The node started the recording (and committed it) before it answered.
    [recording] = [found async for found in Recording.objects.filter(session=live.session)]
    assert (recording.state, recording.publisher) == (RecordingState.RECORDING, "instructor")
    assert Path(recording.local_path).is_relative_to(tmp_path / "recordings")

    await wait_until_async(lambda: camera.pc.connectionState == "connected", message="the publisher to connect")
    started = time.monotonic()
    await wait_until_async(lambda: Path(recording.local_path).exists(), timeout=5, message="the node's recorder")
    await asyncio.sleep(RECORD_SECONDS)
    await end_session(live)
    seconds = time.monotonic() - started

    def closed() -> Recording | None:
        found = Recording.objects.get(pk=recording.pk)
        return found if found.state != RecordingState.RECORDING else None

    finished = await wait_until_async(
        sync_to_async(closed), timeout=15, interval=0.1, message="the node to close the recording"
    )
    assert finished.state in (RecordingState.UPLOADING, RecordingState.STORED), finished.error
    assert finished.sha256 and finished.size > 0
    # Queued once the node's transaction committed, so just after the row changed.
    upload = ("streaming.tasks.upload_recording", [recording.pk])
    await wait_until_async(
        lambda: upload in queued_tasks(nodes, queue), timeout=5, message="the node to queue the upload"
    )

    # The sweep, in process (the session's end already ran it once, possibly before the node had closed the file).
    await sync_to_async(upload_session_recordings)(live.session.pk)
    stored = await sync_to_async(Recording.objects.get)(pk=recording.pk)
    assert stored.state == RecordingState.STORED, stored.error
    assert not Path(stored.local_path).exists()  # removed once the upload was confirmed
    played = probe(Path(storage_for_region(stored.storage_region).path(stored.storage_key)))
    assert_plays_like(played, seconds)
    assert isinstance(played["video_frames"], int) and played["video_frames"] > 0
    assert stored.duration_s == pytest.approx(played["duration"], abs=0.2)

    assert no_sfu_here()
    log = node.log.read_text()
    assert f"recording {recording.pk}: " in log  # the node's own log lines survive its Django setup
    assert "Traceback" not in log
