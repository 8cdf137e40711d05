"""Room agents follow their room's sessions through the control socket: a session going live makes the agent
publish with no operator command, its end stops it; an operator's stop holds for that session only; an agent
waiting between sessions is healthy on the console."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from classrooms.models import Device, DeviceKind, LiveSession, Room, SessionState
from classrooms.services.sessions import session_end, session_start
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.live import RoomAgentSockets

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WAITING = {"requested": False, "session_id": None}
IDLE_HEALTH: dict[str, Any] = {
    "publishing": False,
    "session_id": None,
    "cpu_pct": 1.0,
    "temperature_c": None,
    "link": {"rtt_ms": None, "loss_pct": None, "jitter_ms": None},
    "devices": [
        {"kind": "camera", "name": "Front camera", "ok": True, "error": "", "fps": 0.0},
        {"kind": "microphone", "name": "Ceiling microphone", "ok": True, "error": ""},
    ],
}


def upcoming(live: Any, room: Room, *, starts_in: timedelta = timedelta(minutes=5)) -> LiveSession:
    starts_at = timezone.now() + starts_in
    return LiveSessionFactory.create(
        course=live.course,
        instructor=live.instructor,
        rooms=[room],
        state=SessionState.SCHEDULED,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
    )


def operator_command(user: Any, room: Room, command: str) -> int:
    browser = Client()
    browser.force_login(user)
    return browser.post(f"/en/live/rooms/{room.pk}/stream/", {"command": command}).status_code


async def test_the_agent_publishes_when_the_session_goes_live_and_stops_when_it_ends(
    room_agent_sockets: RoomAgentSockets, live: Any
) -> None:
    room = await sync_to_async(RoomFactory.create)(name="Jiefangbei Room", city="chongqing")
    session = await sync_to_async(upcoming)(live, room)
    agent, welcome = await room_agent_sockets.open(room)
    assert welcome["stream"] == WAITING  # between sessions: waiting, not refused
    assert (await agent.request({"type": "health", "data": IDLE_HEALTH}))["stream"] == WAITING

    await sync_to_async(session_start)(session=session, by=live.instructor)
    assert await agent.receive() == {"type": "stream", "stream": {"requested": True, "session_id": session.pk}}

    await sync_to_async(session_end)(session=session, by=live.instructor)
    assert await agent.receive() == {"type": "stream", "stream": WAITING}
    assert (await agent.request({"type": "health", "data": IDLE_HEALTH}))["stream"] == WAITING


async def test_an_operators_stop_holds_for_that_session_only(room_agent_sockets: RoomAgentSockets, live: Any) -> None:
    agent, welcome = await room_agent_sockets.open(live.room)
    assert welcome["stream"] == {"requested": True, "session_id": live.session.pk}

    assert await sync_to_async(operator_command)(live.operator, live.room, "stop") == 303
    assert (await agent.receive())["command"] == "stop"
    assert (await agent.request({"type": "health", "data": IDLE_HEALTH}))["stream"] == WAITING

    # The operator starts it again: the room follows the session once more.
    assert await sync_to_async(operator_command)(live.operator, live.room, "start") == 303
    assert (await agent.receive())["command"] == "start"
    assert (await agent.request({"type": "health", "data": IDLE_HEALTH}))["stream"]["requested"] is True

    # Stopped again, then the session ends: the room's next session streams by itself.
    assert await sync_to_async(operator_command)(live.operator, live.room, "stop") == 303
    assert (await agent.receive())["command"] == "stop"
    await sync_to_async(session_end)(session=live.session, by=live.instructor)
    assert await agent.receive() == {"type": "stream", "stream": WAITING}
    following = await sync_to_async(upcoming)(live, live.room, starts_in=timedelta(minutes=10))
    await sync_to_async(session_start)(session=following, by=live.instructor)
    assert await agent.receive() == {"type": "stream", "stream": {"requested": True, "session_id": following.pk}}


async def test_a_stop_in_one_room_leaves_the_other_room_streaming(
    room_agent_sockets: RoomAgentSockets, live: Any
) -> None:
    other = await sync_to_async(RoomFactory.create)(name="Marina Room")
    session = await sync_to_async(upcoming)(live, live.room)
    await sync_to_async(session.rooms.add)(other)
    await sync_to_async(session_end)(session=live.session, by=live.instructor)
    first, _ = await room_agent_sockets.open(live.room)
    second, _ = await room_agent_sockets.open(other)
    await sync_to_async(session_start)(session=session, by=live.instructor)
    for agent in (first, second):
        assert (await agent.receive())["stream"] == {"requested": True, "session_id": session.pk}
    assert await sync_to_async(operator_command)(live.operator, live.room, "stop") == 303
    assert (await first.request({"type": "health", "data": IDLE_HEALTH}))["stream"] == WAITING
    assert (await second.request({"type": "health", "data": IDLE_HEALTH}))["stream"]["requested"] is True


async def test_an_agent_waiting_between_sessions_is_healthy_on_the_console(
    room_agent_sockets: RoomAgentSockets, live: Any
) -> None:
    await sync_to_async(session_end)(session=live.session, by=live.instructor)
    agent, _ = await room_agent_sockets.open(live.room)
    assert (await agent.request({"type": "health", "data": IDLE_HEALTH}))["type"] == "ack"

    def console() -> str:
        browser = Client()
        browser.force_login(live.operator)
        return browser.get(f"/en/live/rooms/{live.room.pk}/devices/panel/").content.decode()

    panel = await sync_to_async(console)()
    assert 'data-stream-plan="waiting"' in panel and "Waiting for a session" in panel
    assert "status-online" in panel and "status-degraded" not in panel and "status-offline" not in panel
    stored = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.AGENT)
    assert stored.stream_requested is True  # it will stream the room's next session by itself
