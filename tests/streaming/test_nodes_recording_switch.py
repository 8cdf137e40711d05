"""Recording switched on and off mid-session with SFU_MODE "nodes": the media socket asks the session's node to
record the publisher already publishing (the `record` op), and to close its recorder when recording is switched
off. The node records into the test's database, so this needs PostgreSQL (and Redis, which the nodes need anyway).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from classrooms.models import LiveSession
from classrooms.services.recording import session_recording_switch
from streaming.models import Recording, RecordingState
from tests.support.media import CameraAndMicrophone, joined
from tests.support.nodes import Nodes, nodes_running
from tests.support.waiting import wait_until_async

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("tasks_in_process", "close_remote_media_hub"),
]


@pytest.fixture
def recording_node(redis_url: str, settings: Any, tmp_path: Path) -> Iterator[Nodes]:
    """One node that records into the test database (files under tmp_path; its Celery tasks to a queue of its own)."""
    if connection.vendor != "postgresql":
        pytest.skip("the SFU node records into the test database: needs DATABASE_URL (PostgreSQL)")
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.MEDIA_ROOT = tmp_path / "media"
    queue = f"corridor-test-recordings-{uuid.uuid4().hex[:10]}"
    env = {
        "SFU_NODE_RECORDINGS": "1",
        "DJANGO_SETTINGS_MODULE": "lms.settings.test",
        "DATABASE_URL": database_url,
        "DATABASE_POOL": "false",
        "RECORDINGS_DIR": str(settings.RECORDINGS_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_QUEUE": queue,
    }
    with nodes_running(names=("rec",), redis_url=redis_url, settings=settings, tmp_path=tmp_path, env=env) as nodes:
        try:
            yield nodes
        finally:
            for key in nodes.redis.scan_iter(match=f"*{queue}*"):
                nodes.redis.delete(key)


async def test_switching_recording_on_and_off_mid_session_records_on_the_node(
    recording_node: Nodes, live: Any, media: Any, cameras: list[CameraAndMicrophone]
) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    camera = CameraAndMicrophone()
    cameras.append(camera)
    await camera.publish(teacher)
    await wait_until_async(lambda: camera.pc.connectionState == "connected", message="the publisher to connect")
    assert not [found async for found in Recording.objects.filter(session=live.session)]

    async def switch(recorded: bool) -> None:
        session = await LiveSession.objects.aget(pk=live.session.pk)
        await sync_to_async(session_recording_switch)(session=session, by=live.instructor, recorded=recorded)

    await switch(True)

    def started() -> Recording | None:
        return Recording.objects.filter(session=live.session).first()

    recording = await wait_until_async(sync_to_async(started), timeout=10, interval=0.1, message="the node to record")
    assert (recording.state, recording.publisher) == (RecordingState.RECORDING, "instructor")
    await wait_until_async(lambda: Path(recording.local_path).exists(), timeout=5, message="the node's recorder")
    await asyncio.sleep(2.0)

    await switch(False)

    def closed() -> Recording | None:
        found = Recording.objects.get(pk=recording.pk)
        return found if found.state != RecordingState.RECORDING else None

    finished = await wait_until_async(sync_to_async(closed), timeout=15, interval=0.1, message="the recorder to close")
    assert finished.state in (RecordingState.UPLOADING, RecordingState.STORED), finished.error
    assert finished.size > 0 and finished.duration_s and finished.duration_s > 1.0
    assert await Recording.objects.filter(session=live.session).acount() == 1
    assert "Traceback" not in recording_node.nodes[0].log.read_text()
