"""Which city's media server a socket goes to: a room agent's room's city, a person's home region, or, when they
chose "automatic", the city their page measured nearer (`?city=`); the welcome says which."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from lms.asgi import application
from tests import factories
from tests.classrooms.factories import enrol
from tests.support.live import LiveClient, session_cookie

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def welcome(user: Any, session_id: int, query: str = "") -> dict[str, Any]:
    cookie = await sync_to_async(session_cookie)(user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/media/{query}", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    client = LiveClient(communicator)
    try:
        frame = await client.receive()
        assert frame["type"] == "welcome", frame
        return dict(frame["data"])
    finally:
        await client.close()


async def test_a_person_s_media_city_is_their_home_region_unless_they_chose_the_nearest(live: Any) -> None:
    at_home = await sync_to_async(factories.trainee)(home_region="chongqing")
    nearest = await sync_to_async(factories.trainee)(home_region="chongqing", media_region="automatic")
    for trainee in (at_home, nearest):
        await sync_to_async(enrol)(trainee, live.course)

    assert (await welcome(at_home, live.session.pk))["media_city"] == "chongqing"
    # Only a person who chose "automatic" may name the city their page measured nearer.
    assert (await welcome(at_home, live.session.pk, "?city=singapore"))["media_city"] == "chongqing"
    assert (await welcome(nearest, live.session.pk, "?city=singapore"))["media_city"] == "singapore"
    # Anything but a city is ignored.
    assert (await welcome(nearest, live.session.pk, "?city=atlantis"))["media_city"] == "chongqing"
    # In one process (SFU_MODE local) there is nothing to measure.
    assert (await welcome(nearest, live.session.pk))["media_probes"] == {}
