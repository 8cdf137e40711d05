"""On the media socket: who publishes when (Publication rows), inviting a trainee to speak (their hand goes down,
their tile carries their name, a decline reaches the moderators), and muting a room's microphone."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from classrooms.models import Device, DeviceKind, RaisedHand
from classrooms.services import hands
from streaming import consumers
from streaming.models import Publication, PublicationKind
from tests.classrooms.factories import RoomFactory
from tests.support.media import Camera, joined
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def publications() -> list[Publication]:
    return list(Publication.objects.order_by("pk"))


async def test_a_publication_is_open_while_publishing_refreshed_and_closed(
    live: Any, media: Any, peers: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "PUBLICATION_REFRESH_SECONDS", 0.2)
    await sync_to_async(live.instructor.__class__.objects.filter(pk=live.instructor.pk).update)(
        first_name="Mei", last_name="Tan"
    )
    teacher, welcome = await joined(media, live.instructor, live.session.pk)
    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(teacher))["type"] == "media.answer"

    [publication] = await sync_to_async(publications)()
    assert (publication.kind, publication.label, publication.user_id, publication.room_id) == (
        PublicationKind.INSTRUCTOR,
        "Mei Tan",
        live.instructor.pk,
        None,
    )
    assert publication.peer_id == welcome["peer_id"] and publication.ended_at is None
    first_seen = publication.last_seen_at

    async def refreshed() -> bool:
        [now] = await sync_to_async(publications)()
        return now.last_seen_at > first_seen

    await wait_until_async(refreshed, timeout=5, message="the publication refreshed while publishing")

    assert (await teacher.request({"type": "media.unpublish"}))["type"] == "ack"
    [publication] = await sync_to_async(publications)()
    assert publication.ended_at is not None


async def test_leaving_the_page_ends_the_publication(live: Any, media: Any, peers: list[Any]) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    camera = Camera()
    peers.append(camera)
    await camera.publish(teacher)
    await teacher.close()

    async def ended() -> bool:
        return all(p.ended_at is not None for p in await sync_to_async(publications)())

    await wait_until_async(ended, timeout=5, message="the publication ended when the socket left")


async def test_a_publisher_whose_connection_ends_ends_its_publication(live: Any, media: Any, peers: list[Any]) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    camera = Camera()
    peers.append(camera)
    await camera.publish(teacher)
    await wait_until_async(lambda: camera.pc.connectionState == "connected", message="the publisher connected")
    await camera.pc.close()  # the browser went away without a word on the socket, which stays open
    assert (await teacher.receive_type("media.publisher_left", timeout=10))["reason"] == "failed"

    async def ended() -> bool:
        return all(p.ended_at is not None for p in await sync_to_async(publications)())

    await wait_until_async(ended, timeout=5, message="the publication ended when the Sfu saw the publisher go")


async def test_an_invited_trainee_speaks_under_their_name_and_is_stopped(
    live: Any, media: Any, peers: list[Any]
) -> None:
    await sync_to_async(live.trainee.__class__.objects.filter(pk=live.trainee.pk).update)(
        first_name="Wei", last_name="Zhang"
    )
    await sync_to_async(hands.hand_raise)(session=live.session, user=live.trainee)
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    other, _ = await joined(media, live.admin, live.session.pk)

    assert (await teacher.request({"type": "media.invite", "user_id": live.trainee.pk}))["type"] == "ack"
    assert (await trainee.receive_type("media.can_publish"))["can_publish"] is True
    # Invited, the hand is answered: it goes down.
    assert not await sync_to_async(
        RaisedHand.objects.filter(session=live.session, user=live.trainee, lowered_at__isnull=True).exists
    )()

    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(trainee))["type"] == "media.answer"
    seen = await other.receive_type("media.tracks")
    [track] = seen["tracks"]
    assert (track["role"], track["name"], track["user_id"]) == ("trainee", "Wei Zhang", live.trainee.pk)
    [publication] = await sync_to_async(publications)()
    assert (publication.kind, publication.label) == (PublicationKind.SPEAKER, "Wei Zhang")

    # "Stop": the tile goes away for everyone, the publication ends.
    assert (await teacher.request({"type": "media.revoke", "user_id": live.trainee.pk}))["type"] == "ack"
    assert (await other.receive_type("media.publisher_left"))["track_ids"] == [track["track_id"]]
    assert (await other.receive_type("media.tracks"))["tracks"] == []

    async def ended() -> bool:
        return all(p.ended_at is not None for p in await sync_to_async(publications)())

    await wait_until_async(ended, timeout=5, message="the speaker's publication ended")


async def test_a_declined_invitation_tells_the_moderators_and_withdraws_it(live: Any, media: Any) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    # Declining without an invitation is refused.
    assert (await trainee.request({"type": "media.decline"}))["code"] == "not_invited"

    await teacher.request({"type": "media.invite", "user_id": live.trainee.pk})
    await trainee.receive_type("media.can_publish")
    assert (await trainee.request({"type": "media.decline"}))["type"] == "ack"
    declined = await teacher.receive_type("media.declined")
    assert declined["user_id"] == live.trainee.pk
    assert declined["name"]
    assert (await trainee.receive_type("media.can_publish"))["can_publish"] is False
    assert (await Camera().publish(trainee))["code"] == "forbidden"
    # Moderators only: the trainee hears nothing of it.
    assert await trainee.nothing_more()


async def test_only_moderators_invite_and_only_trainees_of_the_session(live: Any, media: Any) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    operator, _ = await joined(media, live.operator, live.session.pk)

    for client in (trainee, operator):
        refused = await client.request({"type": "media.invite", "user_id": live.trainee.pk})
        assert refused["code"] == "forbidden" and refused["message"]
    for user_id in (live.outsider.pk, 999_999, live.instructor.pk):  # not enrolled, forged, not a trainee
        refused = await teacher.request({"type": "media.invite", "user_id": user_id})
        assert refused["code"] == "not_a_trainee", refused
        assert refused["message"]
    assert await trainee.nothing_more()


async def test_a_moderator_mutes_a_room_and_every_page_hears_it(live: Any, media: Any) -> None:
    teacher, welcome = await joined(media, live.instructor, live.session.pk)
    assert welcome["muted_rooms"] == []
    trainee, _ = await joined(media, live.trainee, live.session.pk)

    reply = await teacher.request({"type": "media.mute", "room_id": live.room.pk, "muted": True})
    assert reply == {"type": "ack", "room_id": live.room.pk, "muted": True, "ref": reply["ref"]}
    for client in (teacher, trainee):
        assert await client.receive_type("media.room_muted") == {
            "type": "media.room_muted",
            "room_id": live.room.pk,
            "muted": True,
        }
    agent = await sync_to_async(Device.objects.get)(room=live.room, kind=DeviceKind.AGENT)
    assert agent.microphone_muted is True
    # A page opened later knows it from its welcome.
    _, late = await joined(media, live.admin, live.session.pk)
    assert late["muted_rooms"] == [live.room.pk]

    await teacher.request({"type": "media.mute", "room_id": live.room.pk, "muted": False})
    assert (await trainee.receive_type("media.room_muted"))["muted"] is False
    agent = await sync_to_async(Device.objects.get)(pk=agent.pk)
    assert agent.microphone_muted is False


async def test_trainees_and_forged_rooms_cannot_mute(live: Any, media: Any) -> None:
    elsewhere = await sync_to_async(RoomFactory.create)()
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    operator, _ = await joined(media, live.operator, live.session.pk)

    for client in (trainee, operator):
        refused = await client.request({"type": "media.mute", "room_id": live.room.pk})
        assert refused["code"] == "forbidden" and refused["message"]
    for room_id in (elsewhere.pk, 999_999):
        refused = await teacher.request({"type": "media.mute", "room_id": room_id})
        assert refused["code"] == "unknown_room" and refused["message"]
    assert (await teacher.request({"type": "media.mute", "room_id": "1"}))["code"] == "invalid_id"
    assert not await sync_to_async(Device.objects.filter(microphone_muted=True).exists)()
    assert await trainee.nothing_more()
