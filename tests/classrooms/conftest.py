import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from classrooms.models import LiveSession, Room
from courses.models import CoursePage
from lms.accounts.models import User
from lms.asgi import application
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol
from tests.support.live import LiveClient, session_cookie


@pytest.fixture
def live(transactional_db: Any) -> Any:
    """A live session with one room, its instructor, operator, an enrolled trainee and an outsider."""
    catalogue = factories.site_catalogue()
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    room = RoomFactory.create()
    operator = factories.operator()
    room.operators.add(operator)
    instructor = factories.instructor()
    session = LiveSessionFactory.create(course=course, instructor=instructor, rooms=[room])
    trainee = factories.trainee()
    enrol(trainee, course)

    class Live:
        session: LiveSession
        course: CoursePage
        room: Room
        instructor: User
        operator: User
        trainee: User
        outsider: User
        admin: User

    live = Live()
    live.session, live.course, live.room = session, course, room
    live.instructor, live.operator, live.trainee = instructor, operator, trainee
    live.outsider = factories.trainee()
    live.admin = factories.administrator()
    return live


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Any]]:
    opened: list[LiveClient] = []

    async def open_socket(
        user: Any, session_id: int, *, origin: str = "http://testserver"
    ) -> tuple[bool, Any, LiveClient]:
        headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
        if user is not None:
            cookie = await sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        communicator = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/", headers=headers)
        connected, subprotocol = await communicator.connect()
        client = LiveClient(communicator)
        opened.append(client)
        return connected, subprotocol, client

    yield open_socket
    for client in opened:
        # The server may already have closed it.
        with contextlib.suppress(Exception):
            await client.close()
