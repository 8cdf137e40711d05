import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.support.coturn import CoturnServer, running_coturn
from tests.support.live import LiveClient, RoomAgentSockets, a_live_session
from tests.support.media import open_media_socket
from tests.support.s3 import BUCKET, REGION_BUCKETS, empty_and_delete, free_port, s3_client, use_s3_storage

# Tests that measure media timing (frame rates, first-frame delays) or start Chromium, servers, SFU nodes or
# Celery workers of their own: run in parallel with others on a 2-core machine, they would measure the machine
# (or overload it). `make test` runs everything else with pytest-xdist first, then these alone.
SERIAL_MODULES = {
    "tests/streaming/test_sfu.py",
    "tests/streaming/test_nodes.py",
    "tests/streaming/test_nodes_recording.py",
    "tests/streaming/test_turn.py",
    "tests/streaming/test_recording_switch.py",
    "tests/streaming/test_recording_live.py",
    "tests/classrooms/test_two_servers.py",
    "tests/bench/test_live_load.py",
    "tests/bench/test_sfu_bench.py",
    "tests/bench/test_cascade_bench.py",
    "tests/bench/test_workers.py",
    "tests/bench/test_recording_compose.py",
    "tests/bench/test_exam_storm.py",
}
SERIAL_MARKERS = {"e2e", "real_worker"}
ROOT = Path(__file__).resolve().parent.parent


# .ci/run's first run (a fresh machine, no apt package) records the tests it had to skip in the file named by
# CORRIDOR_RECORD_SKIPPED; once the packages are installed, CORRIDOR_ONLY_TESTS (that file) runs just those on the
# embedded default, rather than the whole suite a second time.
RECORD_SKIPPED = os.environ.get("CORRIDOR_RECORD_SKIPPED", "")
ONLY_TESTS = os.environ.get("CORRIDOR_ONLY_TESTS", "")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if RECORD_SKIPPED and report.skipped and not os.environ.get("PYTEST_XDIST_WORKER"):
        with open(RECORD_SKIPPED, "a", encoding="utf-8") as skipped:
            skipped.write(report.nodeid + "\n")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ONLY_TESTS:
        wanted = set(Path(ONLY_TESTS).read_text(encoding="utf-8").split())
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in wanted])
        items[:] = [item for item in items if item.nodeid in wanted]
    for item in items:
        module = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        if (
            module in SERIAL_MODULES
            or module.startswith("tests/e2e/")
            or SERIAL_MARKERS & {m.name for m in item.iter_markers()}
        ):
            item.add_marker(pytest.mark.serial)


@pytest.fixture
def catalogue(db: Any) -> Any:
    return factories.site_catalogue()


@pytest.fixture
def course(catalogue: Any) -> Any:
    return factories.course_with_lessons(catalogue)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: this test needs a real Redis")
    return url


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the site's default language: a request through LocaleMiddleware (or a view that
    activates a person's language) leaves its language active on the thread, and a later test on the same
    worker would otherwise read its messages in Chinese."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pool(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """On PostgreSQL the app uses a connection pool (shared by every thread's connection): close it
    before the test database is dropped, or the drop finds the pool's idle connections.

    Closing a pool cannot close a connection that is still checked out, and one can be: Django keeps
    connections per async context, and a context that ended while holding one (seen after a burst of
    socket votes) is out of the suite's reach. Those are ended on the server so the drop succeeds.
    """
    yield
    from django.db import connections

    for connection in connections.all():
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is None:
            continue
        close_pool()
        with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [connection.settings_dict["NAME"]],
            )


@pytest.fixture
def tasks_in_process() -> Iterator[None]:
    """Run Celery tasks where they are sent, as the embedded default does, even with a broker.

    For tests about what a task does (uploads, certificates), not about the queue: real workers on
    Redis are tested in tests/lms/test_redis_services.py and tests/certificates/test_worker_crash.py.
    """
    from lms.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3 endpoint over HTTP (moto's server mode), for the storage, certificate and recording tests."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint: str, settings: Any) -> Iterator[Any]:
    """The default storage on a fresh bucket (`tests.support.s3.BUCKET`) at the local endpoint; yields its client."""
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    use_s3_storage(settings, endpoint=s3_endpoint, bucket=BUCKET)
    settings.WAGTAILDOCS_SERVE_METHOD = "redirect"
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def region_buckets(s3_endpoint: str, settings: Any) -> Iterator[Any]:
    """The default storage on `BUCKET` and each region's storage on its own bucket (`REGION_BUCKETS`) at the local
    endpoint, all fresh; yields the client."""
    client = s3_client(s3_endpoint)
    for bucket in (BUCKET, *REGION_BUCKETS.values()):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    use_s3_storage(settings, endpoint=s3_endpoint, bucket=BUCKET, regions=REGION_BUCKETS)
    settings.WAGTAILDOCS_SERVE_METHOD = "redirect"
    yield client
    for bucket in (BUCKET, *REGION_BUCKETS.values()):
        empty_and_delete(client, bucket)


@pytest.fixture(scope="session")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoturnServer]:
    """A real coturn (Debian's `turnserver`) for the TURN tests of tests/streaming and tests/e2e: unpacks as
    `urls, secret = coturn` (tests/support/coturn.py). Skipped where coturn is not installed."""
    with running_coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


@pytest.fixture
def live(transactional_db: Any) -> Any:
    """A live session with one room, its instructor, operator, an enrolled trainee and an outsider
    (for the live and media sockets of tests/classrooms and tests/streaming)."""
    return a_live_session()


@pytest.fixture
async def media() -> AsyncIterator[Callable[..., Any]]:
    """Open the media signaling socket as a user: `connected, client = await media(user, session_id)`;
    closed after the test."""
    opened: list[LiveClient] = []

    async def open_socket(user: Any, session_id: int) -> tuple[bool, LiveClient]:
        connected, client = await open_media_socket(user, session_id)
        opened.append(client)
        return connected, client

    yield open_socket
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()


@pytest.fixture
async def room_agent_sockets() -> AsyncIterator[RoomAgentSockets]:
    """Open sockets as a room's agent: `client, welcome = await room_agent_sockets.open(room)` (its control
    socket) or `.open(room, "/ws/sessions/<id>/media/")`; closed after the test."""
    sockets = RoomAgentSockets()
    yield sockets
    await sockets.close()


@pytest.fixture
async def peers() -> AsyncIterator[list[Any]]:
    """aiortc peers (tests/support/media.py) a test makes, closed after it."""
    made: list[Any] = []
    yield made
    for peer in made:
        await peer.pc.close()
        for task in getattr(peer, "tasks", []):
            task.cancel()
