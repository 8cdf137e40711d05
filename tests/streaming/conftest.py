"""Fixtures for streaming tests (the media socket, peers, S3 and coturn fixtures they share with others are in
tests/conftest.py; helpers in tests/support)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streaming import media_hubs
from tests.support.media import CameraAndMicrophone


@pytest.fixture
async def cameras() -> AsyncIterator[list[CameraAndMicrophone]]:
    """Publishers with synthetic video and audio, closed after each test."""
    made: list[CameraAndMicrophone] = []
    yield made
    for camera in made:
        await camera.pc.close()


@pytest.fixture
async def close_remote_media_hub() -> AsyncIterator[None]:
    """SFU_MODE "nodes" (used by the node tests): close the test loop's remote hub while the loop and its Redis
    connections still run (cancelled by the loop's own shutdown, its channel-layer receive could wait forever to
    unsubscribe)."""
    yield
    await media_hubs.remote_media_hub_close()


@pytest.fixture
def recordings_dir(tmp_path: Path, settings: Any) -> Path:
    """Recordings (and the local storage they go to) in the test's own folder."""
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.RECORDINGS_DIR
