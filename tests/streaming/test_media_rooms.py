"""Both rooms at once: two room agents publishing into one session, a trainee receiving every room's picture and
sound (real aiortc peers over loopback, through the real ASGI stack)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from classrooms.agent.sources import ToneMicrophone
from tests.classrooms.factories import RoomFactory
from tests.support.live import RoomAgentSockets
from tests.support.media import CameraAndMicrophone, Viewer, joined
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_a_subscriber_receives_every_rooms_picture_and_sound(
    live: Any, media: Any, peers: list[Any], room_agent_sockets: RoomAgentSockets
) -> None:
    second = await sync_to_async(RoomFactory.create)(name="Jiefangbei Studio", city="chongqing")
    await sync_to_async(live.session.rooms.add)(second)
    published: dict[int, list[dict[str, Any]]] = {}
    for room in (live.room, second):
        client, welcome = await room_agent_sockets.open(room, f"/ws/sessions/{live.session.pk}/media/")
        assert welcome["can_publish"] is True
        room_camera = CameraAndMicrophone(audio=ToneMicrophone())
        peers.append(room_camera)
        published[room.pk] = (await room_camera.publish(client))["tracks"]

    trainee, welcome = await joined(media, live.trainee, live.session.pk)
    # Every room's tracks are labelled with the room (name and city) for its tile.
    rooms = {(t["kind"], t["room"]["name"], t["room"]["city"]) for t in welcome["tracks"]}
    assert rooms == {(kind, room.name, room.city) for room in (live.room, second) for kind in ("audio", "video")}, (
        welcome["tracks"]
    )

    viewer = Viewer()
    peers.append(viewer)
    offer = await viewer.subscribe(trainee)
    mids = {(t["publisher_id"], t["kind"]): t["mid"] for t in offer["tracks"]}
    audio_mids = [mid for (_, kind), mid in mids.items() if kind == "audio"]
    video_mids = [mid for (_, kind), mid in mids.items() if kind == "video"]
    assert len(audio_mids) == len(video_mids) == 2

    # Both rooms' sound arrives and decodes to a tone, not silence; both pictures move.
    def every_room_heard_and_seen() -> bool:
        return all(
            viewer.audio_frames.get(mid, 0) >= 50 and viewer.audio_energy.get(mid, 0) > 1e5 for mid in audio_mids
        ) and all(viewer.video_frames.get(mid, 0) >= 20 for mid in video_mids)

    await wait_until_async(
        every_room_heard_and_seen,
        timeout=20,
        message=lambda: f"audio {viewer.audio_frames} energy {viewer.audio_energy}, video {viewer.video_frames}",
    )
