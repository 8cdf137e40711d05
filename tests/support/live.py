"""A live session to join (the `live` fixture of tests/conftest.py), a participant on its socket (JSON frames), and the
session cookie that signs one in."""

import contextlib
import json
from typing import Any

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from classrooms.models import LiveSession, Room
from courses.models import CoursePage
from lms.accounts.models import User
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol


class LiveClient:
    """A participant's socket, speaking JSON frames."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.unread: list[dict[str, Any]] = []  # frames that arrived while awaiting a reply

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = 3) -> dict[str, Any]:
        if self.unread:
            return self.unread.pop(0)
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def receive_type(self, frame_type: str, timeout: float = 3) -> dict[str, Any]:
        """The next frame of `frame_type`, skipping others (broadcasts interleave with replies)."""
        while True:
            frame = await self.receive(timeout)
            if frame["type"] == frame_type:
                return frame

    async def receive_reply(self, timeout: float = 3) -> dict[str, Any]:
        """The next reply to something this client sent (broadcasts carry an event_id; replies do not)."""
        while True:
            frame = await self.receive(timeout)
            if "event_id" not in frame:
                return frame

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send and wait for the reply (ack or error) to this frame."""
        frame = {**frame, "ref": frame.get("ref", id(frame))}
        await self.send(frame)
        while True:
            reply = json.loads(await self.communicator.receive_from(timeout=3))
            if reply.get("ref") == frame["ref"]:
                return reply
            self.unread.append(reply)

    async def nothing_more(self) -> bool:
        return await self.communicator.receive_nothing(timeout=0.3)

    async def close(self) -> None:
        await self.communicator.disconnect()


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def a_live_session() -> Any:
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


class RoomAgentSockets:
    """Sockets opened as a room's agent opens them: a fresh device token for the room as a Bearer header. `open`
    returns the client and its welcome's data; `close` closes every socket opened (the `room_agent_sockets`
    fixture of tests/conftest.py does it after the test)."""

    def __init__(self) -> None:
        self.opened: list[LiveClient] = []

    async def open(self, room: Room, path: str | None = None) -> tuple[LiveClient, dict[str, Any]]:
        """`path`: the room's control socket unless given (e.g. a session's media socket)."""
        from asgiref.sync import sync_to_async

        from classrooms.services import devices
        from lms.asgi import application

        token = (await sync_to_async(devices.device_token_issue)(room=room)).secret
        headers = [
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
        ]
        communicator = WebsocketCommunicator(application, path or f"/ws/rooms/{room.pk}/agent/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        client = LiveClient(communicator)
        self.opened.append(client)
        welcome = await client.receive()
        assert welcome["type"] == "welcome", welcome
        return client, welcome["data"]

    async def close(self) -> None:
        for client in self.opened:
            with contextlib.suppress(Exception):
                await client.close()


async def joined(connect: Any, user: Any, session: Any) -> Any:
    """A live socket of `user` (through the `connect` fixture) that has had its welcome (`client.welcome`)."""
    connected, _, client = await connect(user, session.pk)
    assert connected
    welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    client.welcome = welcome["data"]
    return client


async def refused_with(client: Any) -> tuple[dict[str, Any], int]:
    """The error frame a refused socket got, and the code it was closed with."""
    frame = await client.receive()
    closed = await client.communicator.receive_output(timeout=3)
    assert closed["type"] == "websocket.close"
    return frame, closed["code"]
