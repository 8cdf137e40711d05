"""Muting a room's microphone from the operator console: the agent's control socket hears it (now, and after a
reconnect), the live page's media sockets show it, and only the room's operators and administrators may."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from classrooms.models import Device, DeviceKind
from tests import factories
from tests.support.live import RoomAgentSockets
from tests.support.media import joined

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def post_as(user: Any, path: str, data: dict[str, str], *, json: bool = False) -> Any:
    browser = Client()
    browser.force_login(user)
    headers = {"Accept": "application/json"} if json else {}
    return browser.post(path, data, headers=headers)


async def test_an_operator_mutes_and_unmutes_the_room(
    live: Any, media: Any, room_agent_sockets: RoomAgentSockets
) -> None:
    agent, welcome = await room_agent_sockets.open(live.room)
    assert welcome["microphone_muted"] is False
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    url = f"/en/live/rooms/{live.room.pk}/microphone/"

    response = await sync_to_async(post_as)(live.operator, url, {"muted": "1"}, json=True)
    assert response.status_code == 200
    assert response.json() == {"muted": True, "message": "The room's microphone is muted."}
    assert await agent.receive() == {"type": "microphone", "muted": True}
    assert (await trainee.receive_type("media.room_muted"))["muted"] is True
    room_agent = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.AGENT)
    assert room_agent.microphone_muted is True

    # An agent that reconnects (or reports) is told again, so it mutes itself after a restart.
    _, again = await room_agent_sockets.open(live.room)
    assert again["microphone_muted"] is True
    # The console shows it.
    page = await sync_to_async(Client)()
    await sync_to_async(page.force_login)(live.operator)
    panel = await sync_to_async(page.get)(f"/en/live/rooms/{live.room.pk}/devices/panel/")
    assert 'data-microphone-muted="true"' in panel.content.decode()

    assert (await sync_to_async(post_as)(live.admin, url, {"muted": "0"})).status_code == 303
    assert (await trainee.receive_type("media.room_muted"))["muted"] is False
    room_agent = await sync_to_async(Device.objects.get)(pk=room_agent.pk)
    assert room_agent.microphone_muted is False


async def test_only_the_rooms_operators_and_administrators_may_mute(
    live: Any, room_agent_sockets: RoomAgentSockets
) -> None:
    agent, _ = await room_agent_sockets.open(live.room)
    url = f"/en/live/rooms/{live.room.pk}/microphone/"
    other_operator = await sync_to_async(factories.operator)()
    for user in (live.trainee, live.instructor, other_operator):
        assert (await sync_to_async(post_as)(user, url, {"muted": "1"})).status_code == 403
    assert (await sync_to_async(post_as)(live.operator, url, {"muted": "maybe"})).status_code == 400
    assert await agent.nothing_more()
    assert not await sync_to_async(Device.objects.filter(microphone_muted=True).exists)()
