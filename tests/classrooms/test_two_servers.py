"""Two ASGI server processes on the real Redis layer: a question asked on one reaches sockets on the other."""

import asyncio
import functools
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings
from django.db import connection

from lms.serve import asgi_server_command
from tests.support.live import session_cookie
from tests.support.processes import stop_processes
from tests.support.waiting import responds, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def two_servers(redis_url: str, transactional_db: Any) -> Iterator[list[int]]:
    if connection.vendor != "postgresql":
        pytest.skip("the servers must share the test database: PostgreSQL only")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lms.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
    }
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            asgi_server_command(port=port),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port in ports:
            wait_until(
                functools.partial(responds, f"http://127.0.0.1:{port}/healthz"),
                timeout=30,
                interval=0.2,
                message=f"the server on port {port}",
            )
        yield ports
    finally:
        stop_processes(*servers, timeout=5)


async def open_socket(port: int, cookie: str, session_id: int) -> Any:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/sessions/{session_id}/",
        origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
    )
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert welcome["type"] == "welcome"
    return ws


async def next_of_type(ws: Any, frame_type: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == frame_type:
            return frame


def test_a_question_asked_on_one_server_reaches_sockets_on_the_other(two_servers: list[int], live: Any) -> None:
    first, second = two_servers
    trainee_cookie, instructor_cookie = session_cookie(live.trainee), session_cookie(live.instructor)
    admin_cookie = session_cookie(live.admin)

    async def scenario() -> None:
        trainee = await open_socket(first, trainee_cookie, live.session.pk)
        instructor = await open_socket(second, instructor_cookie, live.session.pk)
        admin = await open_socket(second, admin_cookie, live.session.pk)
        await trainee.send(json.dumps({"type": "question.ask", "text": "跨城市能听到吗？", "ref": 1}))
        for other_server_socket in (instructor, admin):
            seen = await next_of_type(other_server_socket, "question.created")
            assert seen["data"]["text"] == "跨城市能听到吗？"
        # And back: the answer given on the second server reaches the trainee on the first.
        question_id = seen["data"]["id"]
        await instructor.send(json.dumps({"type": "question.answer", "question_id": question_id, "text": "能。"}))
        answered = await next_of_type(trainee, "question.updated")
        assert answered["data"]["answer"] == "能。"
        for ws in (trainee, instructor, admin):
            await ws.close()

    asyncio.run(scenario())
