"""Sockets' limits, through the real ASGI stack: every frame spends the rate limit (malformed ones too), a flood is
closed, catching up is rationed, and one person holds a limited number of sockets across live and media."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from lms.close_codes import CloseCode
from tests.support.live import joined, refused_with

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_malformed_frames_spend_the_rate_limit_as_good_ones_do(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    for _ in range(20):
        await trainee.send("{not json")
    replies = [await trainee.receive() for _ in range(20)]
    assert {reply["code"] for reply in replies} == {"malformed_json"}
    # The limit is spent: a good frame in the same second is refused, not handled.
    await trainee.send({"type": "heartbeat"})
    assert (await trainee.receive())["code"] == "rate_limited"


async def test_a_flood_closes_the_socket(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    for _ in range(101):  # five times the live socket's 20 a second, and one more
        await trainee.send("x")
    codes = []
    while True:
        output = await trainee.communicator.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            break
        codes.append(json.loads(output["text"])["code"])
    assert output["code"] == CloseCode.FLOODED
    assert codes[-1] == "flooded" and codes.count("rate_limited") == 80


async def test_catching_up_is_allowed_once_every_two_seconds(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    assert (await trainee.request({"type": "sync", "after": 0}))["type"] == "synced"
    refused = await trainee.request({"type": "sync", "after": 0})
    assert refused["code"] == "rate_limited" and "2 seconds" in refused["message"]


@override_settings(SOCKETS_PER_USER=3)
async def test_one_person_holds_at_most_the_allowed_sockets_live_and_media_together(
    connect: Any, media: Any, live: Any
) -> None:
    first = await joined(connect, live.trainee, live.session)
    await joined(connect, live.trainee, live.session)
    connected, media_socket = await media(live.trainee, live.session.pk)
    assert connected and (await media_socket.receive())["type"] == "welcome"

    _, _, fourth = await connect(live.trainee, live.session.pk)
    frame, code = await refused_with(fourth)
    assert (frame["code"], code) == ("too_many_sockets", CloseCode.FLOODED)
    assert "too many Corridor pages" in frame["message"]
    _, media_refused = await media(live.trainee, live.session.pk)
    frame, code = await refused_with(media_refused)
    assert (frame["code"], code) == ("too_many_sockets", CloseCode.FLOODED)

    # Someone else is not affected, and a closed socket frees its place.
    await joined(connect, live.instructor, live.session)
    await first.close()
    await joined(connect, live.trainee, live.session)
