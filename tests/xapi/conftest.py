"""Fixtures for the xAPI tests: a real Ralph LRS (tests/support/ralph.py), Corridor pointed at it."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ralph import Ralph, ralph_server


@pytest.fixture(autouse=True)
def _tasks_here(request: pytest.FixtureRequest) -> None:
    """The send task runs where it is sent (as under `make run`), with REDIS_URL set too, except in tests of real
    workers."""
    if "real_worker" not in request.keywords:
        request.getfixturevalue("tasks_in_process")


@pytest.fixture
def ralph(tmp_path: Path, settings: Any) -> Iterator[Ralph]:
    """Ralph running, and XAPI_LRS_URL and its credentials set to it."""
    server = ralph_server(tmp_path / "ralph")
    server.configure(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lrs_configured(settings: Any) -> None:
    """An LRS named in the settings (nothing listens there: for tests that only look at the queue)."""
    settings.XAPI_LRS_URL = "http://127.0.0.1:9/xAPI/"
    settings.XAPI_LRS_USERNAME, settings.XAPI_LRS_PASSWORD = "corridor", "secret"
