"""Room agents' sockets through the real ASGI stack: the control socket `/ws/rooms/<room>/agent/`, and the media
socket `/ws/sessions/<id>/media/` accepting a room agent (device token, no user) as a publisher."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from classrooms.agent.sources import SyntheticCamera, ToneMicrophone
from classrooms.models import Device, DeviceKind, DeviceToken, SessionState
from classrooms.services import devices
from lms.asgi import application
from lms.close_codes import CloseCode
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.live import LiveClient
from tests.support.media import CONFIG, Viewer, frames_arrive, joined

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HEALTH: dict[str, Any] = {
    "publishing": True,
    "session_id": None,
    "cpu_pct": 12.5,
    "temperature_c": 48.0,
    "link": {"rtt_ms": 41.0, "loss_pct": 0.4, "jitter_ms": 3.0},
    "devices": [
        {
            "kind": "camera",
            "name": "Front camera",
            "ok": True,
            "error": "",
            "fps": 29.8,
            "bitrate_kbps": 512.0,
            "frames_sent": 900,
            "level_db": None,
        },
        {
            "kind": "microphone",
            "name": "Ceiling microphone",
            "ok": True,
            "error": "",
            "fps": None,
            "bitrate_kbps": 48.0,
            "frames_sent": 1500,
            "level_db": -18.0,
        },
    ],
}


def headers(token: str | None) -> list[tuple[bytes, bytes]]:
    found = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if token is not None:
        found.append((b"authorization", f"Bearer {token}".encode()))
    return found


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., Any]]:
    opened: list[LiveClient] = []

    async def open_socket(path: str, token: str | None) -> LiveClient:
        communicator = WebsocketCommunicator(application, path, headers=headers(token))
        connected, _ = await communicator.connect()
        assert connected  # accepted, so a refusal can say why
        client = LiveClient(communicator)
        opened.append(client)
        return client

    yield open_socket
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()


async def issue(room: Any) -> str:
    return (await sync_to_async(devices.device_token_issue)(room=room)).secret


async def refused_with(client: LiveClient) -> tuple[str, int]:
    frame = await client.receive()
    closed = await client.communicator.receive_output(timeout=3)
    assert closed["type"] == "websocket.close"
    return frame["code"], closed["code"]


async def agent_joined(sockets: Any, room: Any, token: str) -> tuple[LiveClient, dict[str, Any]]:
    client = await sockets(f"/ws/rooms/{room.pk}/agent/", token)
    welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    return client, welcome["data"]


def post_as(user: Any, path: str, data: dict[str, str]) -> int:
    browser = Client()
    browser.force_login(user)
    return browser.post(path, data).status_code


# Authentication -------------------------------------------------------------------------------------------------


async def test_a_missing_wrong_or_revoked_token_is_closed_with_4401(sockets: Any, live: Any) -> None:
    path = f"/ws/rooms/{live.room.pk}/agent/"
    assert await refused_with(await sockets(path, None)) == ("unauthenticated", CloseCode.UNAUTHENTICATED)
    assert await refused_with(await sockets(path, "cra_not-a-token")) == ("invalid_token", CloseCode.UNAUTHENTICATED)

    token = await issue(live.room)
    await issue(live.room)  # a new token replaces the first
    assert await refused_with(await sockets(path, token)) == ("invalid_token", CloseCode.UNAUTHENTICATED)


async def test_a_token_of_another_room_is_refused(sockets: Any, live: Any) -> None:
    other = await sync_to_async(RoomFactory.create)(name="Jiefangbei Studio", city="chongqing")
    token = await issue(other)
    assert await refused_with(await sockets(f"/ws/rooms/{live.room.pk}/agent/", token)) == (
        "wrong_room",
        CloseCode.FORBIDDEN,
    )
    # The token is good for its own room, named by id or by slug.
    _, welcome = await agent_joined(sockets, other, token)
    assert welcome["room"] == {"id": other.pk, "name": "Jiefangbei Studio", "city": "chongqing"}
    client = await sockets("/ws/rooms/jiefangbei-studio/agent/", token)
    assert (await client.receive())["type"] == "welcome"


async def test_the_token_never_travels_in_the_url_and_only_its_hash_is_stored(sockets: Any, live: Any) -> None:
    token = await issue(live.room)
    stored = await sync_to_async(DeviceToken.objects.get)()
    assert token not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    # A token in the query string is not a credential.
    client = await sockets(f"/ws/rooms/{live.room.pk}/agent/?token={token}", None)
    assert await refused_with(client) == ("unauthenticated", CloseCode.UNAUTHENTICATED)


# Health ---------------------------------------------------------------------------------------------------------


async def test_health_reports_are_stored_and_answered_with_what_operators_want(sockets: Any, live: Any) -> None:
    token = await issue(live.room)
    agent, welcome = await agent_joined(sockets, live.room, token)
    # The room's session is live: its agent is to publish into it, with no operator command.
    following = {"requested": True, "session_id": live.session.pk}
    assert welcome["stream"] == following
    assert welcome["health_interval"] == 5

    reply = await agent.request({"type": "health", "data": HEALTH})
    assert reply == {"type": "ack", "stream": following, "microphone_muted": False, "ref": reply["ref"]}

    camera = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.CAMERA)
    assert (camera.name, camera.health["fps"], camera.publishing) == ("Front camera", 29.8, True)
    room_agent = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.AGENT)
    assert room_agent.health["link"] == {"rtt_ms": 41.0, "loss_pct": 0.4, "jitter_ms": 3.0}
    assert room_agent.last_seen is not None

    # The console shows it.
    def console() -> str:
        browser = Client()
        browser.force_login(live.operator)
        return browser.get(f"/en/live/rooms/{live.room.pk}/devices/panel/").content.decode()

    page = await sync_to_async(console)()
    assert "Front camera" in page and "30 fps" in page and "41 ms" in page and "Online" in page

    # Disconnected, nothing is publishing any more.
    await agent.close()
    await asyncio.sleep(0.2)
    camera = await sync_to_async(Device.objects.get)(pk=camera.pk)
    assert camera.publishing is False


async def test_a_wrong_typed_health_field_gets_one_error_naming_it_and_the_socket_keeps_serving(
    sockets: Any, live: Any
) -> None:
    agent, _ = await agent_joined(sockets, live.room, await issue(live.room))
    assert (await agent.request({"type": "health", "data": HEALTH, "ref": 1}))["type"] == "ack"
    error = await agent.request({"type": "health", "data": {**HEALTH, "cpu_pct": "12%"}, "ref": "bad"})
    assert (error["type"], error["code"], error["ref"]) == ("error", "invalid_health", "bad")
    assert "`data.cpu_pct`" in error["message"]
    camera = {**HEALTH["devices"][0], "fps": "30"}
    device = await agent.request({"type": "health", "data": {**HEALTH, "devices": [camera]}})
    assert (device["code"], "`data.devices.0.fps`" in device["message"]) == ("invalid_health", True)
    result = await agent.request({"type": "command.result", "id": "c1", "ok": True, "session_id": "12"})
    assert (result["code"], "`session_id`" in result["message"]) == ("invalid_message", True)
    # The first report stands, and the socket still serves.
    assert await sync_to_async(Device.objects.filter(kind=DeviceKind.CAMERA).count)() == 1
    assert (await agent.request({"type": "health", "data": HEALTH}))["type"] == "ack"


async def test_malformed_frames_get_an_error_and_the_socket_keeps_serving(sockets: Any, live: Any) -> None:
    agent, _ = await agent_joined(sockets, live.room, await issue(live.room))
    await agent.send("{not json")
    assert (await agent.receive())["code"] == "malformed_json"
    await agent.send("[1, 2]")
    assert (await agent.receive())["code"] == "invalid_message"
    assert (await agent.request({"type": "dance"}))["code"] == "unknown_type"
    for bad in (
        {**HEALTH, "publishing": "yes"},
        {**HEALTH, "cpu_pct": float("nan")},  # json.dumps writes NaN, which JSON databases refuse
        {**HEALTH, "devices": [{"kind": "toaster", "name": "x"}]},
        {**HEALTH, "devices": [{**HEALTH["devices"][0], "name": ""}]},
        "not an object",
    ):
        assert (await agent.request({"type": "health", "data": bad}))["code"] == "invalid_health", bad
    assert (await agent.request({"type": "command.result", "id": 5}))["code"] == "invalid_message"
    assert await sync_to_async(Device.objects.filter(kind=DeviceKind.CAMERA).exists)() is False
    # Still serving.
    assert (await agent.request({"type": "health", "data": HEALTH}))["type"] == "ack"


# Start and stop -------------------------------------------------------------------------------------------------


async def test_an_operators_start_and_stop_reach_the_agent_and_its_answer_is_kept(sockets: Any, live: Any) -> None:
    agent, _ = await agent_joined(sockets, live.room, await issue(live.room))
    stream_url = f"/en/live/rooms/{live.room.pk}/stream/"

    assert await sync_to_async(post_as)(live.operator, stream_url, {"command": "start"}) == 303
    command = await agent.receive()
    assert command == {
        "type": "command",
        "id": command["id"],
        "command": "start",
        "session_id": live.session.pk,
    }
    result = {"type": "command.result", "id": command["id"], "ok": True, "message": "publishing", "publishing": True}
    assert (await agent.request(result))["type"] == "ack"
    room_agent = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.AGENT)
    assert room_agent.stream_requested is True
    assert (room_agent.last_command["ok"], room_agent.last_command["message"]) == (True, "publishing")
    # What operators want is in each health answer too (an agent that missed the command catches up).
    reply = await agent.request({"type": "health", "data": HEALTH})
    assert reply["stream"] == {"requested": True, "session_id": live.session.pk}

    assert await sync_to_async(post_as)(live.admin, stream_url, {"command": "stop"}) == 303
    assert (await agent.receive())["command"] == "stop"


async def test_a_trainee_or_another_rooms_operator_cannot_start_or_stop(sockets: Any, live: Any) -> None:
    from tests import factories

    agent, _ = await agent_joined(sockets, live.room, await issue(live.room))
    stream_url = f"/en/live/rooms/{live.room.pk}/stream/"
    other_operator = await sync_to_async(factories.operator)()
    for user in (live.trainee, live.instructor, other_operator):
        assert await sync_to_async(post_as)(user, stream_url, {"command": "start"}) == 403
    assert await agent.nothing_more()
    room_agent = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.AGENT)
    assert room_agent.stream_stopped_session_id is None and room_agent.last_command == {}


async def test_revoking_the_token_disconnects_the_agent(sockets: Any, live: Any) -> None:
    token = await issue(live.room)
    agent, _ = await agent_joined(sockets, live.room, token)
    publisher = await sockets(f"/ws/sessions/{live.session.pk}/media/", token)
    assert (await publisher.receive())["type"] == "welcome"

    stored = await sync_to_async(DeviceToken.objects.get)()
    await sync_to_async(devices.device_token_revoke)(token=stored)
    assert await refused_with(agent) == ("token_revoked", CloseCode.UNAUTHENTICATED)
    assert await refused_with(publisher) == ("token_revoked", CloseCode.UNAUTHENTICATED)


# Publishing through the media socket ----------------------------------------------------------------------------


async def test_the_media_socket_takes_a_room_agent_only_into_its_rooms_live_sessions(sockets: Any, live: Any) -> None:
    token = await issue(live.room)
    client = await sockets(f"/ws/sessions/{live.session.pk}/media/", token)
    welcome = await client.receive()
    assert welcome["type"] == "welcome" and welcome["data"]["can_publish"] is True
    assert welcome["data"]["peer_id"].startswith(f"room{live.room.pk}-")

    assert await refused_with(await sockets(f"/ws/sessions/{live.session.pk}/media/", "cra_wrong")) == (
        "invalid_token",
        CloseCode.UNAUTHENTICATED,
    )
    elsewhere = await sync_to_async(RoomFactory.create)()
    other_session = await sync_to_async(LiveSessionFactory.create)(
        course=live.course, instructor=live.instructor, rooms=[elsewhere]
    )
    assert await refused_with(await sockets(f"/ws/sessions/{other_session.pk}/media/", token)) == (
        "forbidden",
        CloseCode.FORBIDDEN,
    )
    assert await refused_with(await sockets("/ws/sessions/999999/media/", token)) == (
        "session_not_found",
        CloseCode.NOT_FOUND,
    )
    ended = await sync_to_async(LiveSessionFactory.create)(
        course=live.course, instructor=live.instructor, rooms=[live.room], state=SessionState.ENDED
    )
    assert await refused_with(await sockets(f"/ws/sessions/{ended.pk}/media/", token)) == (
        "forbidden",
        CloseCode.FORBIDDEN,
    )
    # Moderator's messages are not a room's.
    reply = await client.request({"type": "media.invite", "user_id": live.trainee.pk})
    assert reply["code"] == "forbidden"


async def test_a_room_agent_publishes_and_a_trainee_sees_its_room_labelled(
    sockets: Any, live: Any, media: Any, peers: list[Any]
) -> None:
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    agent = await sockets(f"/ws/sessions/{live.session.pk}/media/", await issue(live.room))
    assert (await agent.receive())["type"] == "welcome"

    # The agent's peer: the synthetic picture and tone, offered as the agent process offers them.
    pc = RTCPeerConnection(CONFIG)
    pc.addTransceiver(SyntheticCamera(width=320, height=240), direction="sendonly")
    pc.addTransceiver(ToneMicrophone(), direction="sendonly")

    class Peer:
        pass

    holder = Peer()
    holder.pc = pc  # type: ignore[attr-defined]
    peers.append(holder)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await agent.request({"type": "media.publish", "sdp": pc.localDescription.sdp})
    assert answer["type"] == "media.answer", answer
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    assert sorted(t["kind"] for t in answer["tracks"]) == ["audio", "video"]

    announced = await trainee.receive_type("media.tracks")
    room = {"id": live.room.pk, "name": live.room.name, "city": live.room.city}
    assert [(t["role"], t["user_id"], t["room"]) for t in announced["tracks"]] == [("room", None, room)] * 2
    assert json.loads(json.dumps(announced)) == announced

    viewer = Viewer()
    peers.append(viewer)
    await viewer.subscribe(trainee)
    await frames_arrive(viewer, 20)
