"""The media signaling socket `/ws/sessions/<id>/media/`, driven by real aiortc peers over loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from courses.models import Enrolment
from lms.close_codes import CloseCode
from streaming.signaling import MediaHub
from tests.classrooms.factories import LiveSessionFactory
from tests.support.media import Camera, Viewer, frames_arrive, joined

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_instructor_publishes_and_a_trainee_sees_moving_video(live: Any, media: Any, peers: list[Any]) -> None:
    teacher, welcome = await joined(media, live.instructor, live.session.pk)
    assert welcome["can_publish"] is True
    assert welcome["tracks"] == []
    assert isinstance(welcome["ice_servers"], list)
    trainee, trainee_welcome = await joined(media, live.trainee, live.session.pk)
    assert trainee_welcome["can_publish"] is False

    camera = Camera()
    peers.append(camera)
    answer = await camera.publish(teacher)
    assert answer["type"] == "media.answer", answer
    [track] = answer["tracks"]
    assert track["kind"] == "video"

    announced = await trainee.receive_type("media.tracks")
    assert [(t["track_id"], t["user_id"], t["role"]) for t in announced["tracks"]] == [
        (track["track_id"], live.instructor.pk, "instructor")
    ]

    viewer = Viewer()
    peers.append(viewer)
    offer = await viewer.subscribe(trainee)
    assert [t["track_id"] for t in offer["tracks"]] == [track["track_id"]]
    await frames_arrive(viewer, 20)

    # A late joiner learns what is published in its welcome.
    _, late = await joined(media, live.admin, live.session.pk)
    assert [t["track_id"] for t in late["tracks"]] == [track["track_id"]]


async def test_a_trainee_publishes_only_while_invited(live: Any, media: Any, peers: list[Any]) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)

    refused = await Camera().publish(trainee)
    assert refused["code"] == "forbidden"
    # Inviting is a moderator's right.
    assert (await trainee.request({"type": "media.invite", "user_id": live.trainee.pk}))["code"] == "forbidden"

    assert (await teacher.request({"type": "media.invite", "user_id": live.trainee.pk}))["type"] == "ack"
    assert (await trainee.receive_type("media.can_publish"))["can_publish"] is True
    camera = Camera()
    peers.append(camera)
    answer = await camera.publish(trainee)
    assert answer["type"] == "media.answer", answer
    track_ids = [t["track_id"] for t in answer["tracks"]]
    seen = await teacher.receive_type("media.tracks")
    assert [t["track_id"] for t in seen["tracks"]] == track_ids

    assert (await teacher.request({"type": "media.revoke", "user_id": live.trainee.pk}))["type"] == "ack"
    left = await teacher.receive_type("media.publisher_left")
    assert left["track_ids"] == track_ids
    assert (await teacher.receive_type("media.tracks"))["tracks"] == []
    assert (await trainee.receive_type("media.can_publish"))["can_publish"] is False
    assert (await Camera().publish(trainee))["code"] == "forbidden"


async def test_the_welcome_says_whether_media_must_go_through_turn(live: Any, media: Any, settings: Any) -> None:
    _, welcome = await joined(media, live.trainee, live.session.pk)
    assert welcome["ice_transport_policy"] == "all"
    settings.ICE_TRANSPORT_POLICY = "relay"  # where browsers must never reach the SFU directly
    _, welcome = await joined(media, live.trainee, live.session.pk)
    assert welcome["ice_transport_policy"] == "relay"


async def test_an_outsider_is_refused_at_connect(live: Any, media: Any) -> None:
    connected, outsider = await media(live.outsider, live.session.pk)
    assert connected  # accepted, so the refusal can say why
    assert (await outsider.receive())["code"] == "forbidden"
    assert (await outsider.communicator.receive_output(timeout=3))["code"] == CloseCode.FORBIDDEN


async def closed_with(client: Any) -> tuple[str, int]:
    """The error code and close code of a media socket the server closed (other frames before them skipped)."""
    error = ""
    while True:
        output = await client.communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return error, output["code"]
        frame = json.loads(output["text"])
        error = frame.get("code", "")


async def test_signing_out_closes_the_persons_media_sockets_and_no_one_elses(live: Any, media: Any) -> None:
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    instructor, _ = await joined(media, live.instructor, live.session.pk)

    def sign_out() -> None:
        browser = Client()
        browser.force_login(live.trainee)
        browser.post("/en/accounts/logout/")

    await sync_to_async(sign_out)()
    assert await closed_with(trainee) == ("signed_out", CloseCode.SIGNED_OUT)
    reply = await instructor.request({"type": "media.candidate", "candidate": "", "role": "publisher"})
    assert reply.get("code") != "signed_out"  # still open and answering


async def test_losing_the_enrolment_closes_the_media_socket_but_a_change_elsewhere_does_not(
    live: Any, media: Any
) -> None:
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    operator, _ = await joined(media, live.operator, live.session.pk)
    await sync_to_async(live.instructor.groups.clear)()  # another person's change: nobody here is closed
    await sync_to_async(Enrolment.objects.filter(user=live.trainee).delete)()
    assert await closed_with(trainee) == ("role_changed", CloseCode.SIGNED_OUT)
    await sync_to_async(live.room.operators.remove)(live.operator)
    assert await closed_with(operator) == ("role_changed", CloseCode.SIGNED_OUT)


async def test_a_track_of_another_session_is_unknown(live: Any, media: Any, peers: list[Any]) -> None:
    other = await sync_to_async(LiveSessionFactory.create)(
        course=live.course, instructor=live.instructor, rooms=[live.room]
    )
    teacher_elsewhere, _ = await joined(media, live.instructor, other.pk)
    camera = Camera()
    peers.append(camera)
    answer = await camera.publish(teacher_elsewhere)
    foreign = answer["tracks"][0]["track_id"]

    trainee, _ = await joined(media, live.trainee, live.session.pk)
    refused = await trainee.request({"type": "media.subscribe", "track_ids": [foreign]})
    assert refused["type"] == "error"
    assert refused["code"] == "unknown_track"


async def test_bad_input_gets_an_error_and_the_socket_still_answers(live: Any, media: Any, peers: list[Any]) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)

    bad = await teacher.request({"type": "media.publish", "sdp": "hello"})
    assert (bad["type"], bad["code"]) == ("error", "bad_sdp")
    await teacher.send("{not json")
    assert (await teacher.receive())["code"] == "malformed_json"
    unknown = await teacher.request({"type": "media.candidate", "role": "publisher", "mid": "0", "candidate": ""})
    assert unknown["code"] == "unknown_peer"

    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(teacher))["type"] == "media.answer"
    stray = await teacher.request({"type": "media.candidate", "role": "publisher", "mid": "7", "candidate": ""})
    assert stray["code"] == "unknown_mid"
    assert json.loads(json.dumps(stray)) == stray


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"type": "media.publish", "sdp": 5}, "bad_sdp", "sdp"),
        ({"type": "media.answer"}, "bad_sdp", "sdp"),
        ({"type": "media.subscribe", "track_ids": "all"}, "invalid_message", "track_ids"),
        ({"type": "media.candidate", "candidate": "", "role": "viewer"}, "invalid_message", "role"),
        ({"type": "media.candidate", "candidate": "", "mline_index": "0"}, "invalid_message", "mline_index"),
        ({"type": "media.invite", "user_id": "31"}, "invalid_id", "user_id"),
    ],
    ids=["sdp-a-number", "sdp-missing", "track-ids-a-string", "role-unknown", "index-a-string", "user-a-string"],
)
async def test_a_wrong_typed_field_gets_one_error_naming_it_and_the_socket_keeps_publishing(
    live: Any, media: Any, peers: list[Any], frame: dict[str, Any], code: str, field: str
) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    camera = Camera()
    peers.append(camera)
    answer = await camera.publish(teacher)
    error = await teacher.request({**frame, "ref": "bad"})
    assert (error["type"], error["code"], error["ref"]) == ("error", code, "bad")
    assert f"`{field}`" in error["message"]
    # Still publishing, and still answering.
    _trainee, welcome = await joined(media, live.trainee, live.session.pk)
    assert [t["track_id"] for t in welcome["tracks"]] == [t["track_id"] for t in answer["tracks"]]
    assert (await teacher.request({"type": "media.subscribe", "track_ids": ["nope"]}))["code"] == "unknown_track"


async def test_a_track_published_while_the_welcome_is_put_together_is_heard_after_it(
    live: Any, media: Any, peers: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The welcome lists the tracks as they were when it read them; a media.tracks announced while the rest of the
    welcome was read must reach the page after it, or the page would take the older list for the newer."""
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    camera = Camera()
    peers.append(camera)
    read_tracks = MediaHub.published_to

    async def tracks_then_a_camera_publishes(hub: MediaHub, socket: Any) -> list[dict[str, Any]]:
        tracks = await read_tracks(hub, socket)
        monkeypatch.setattr(MediaHub, "published_to", read_tracks)
        assert (await camera.publish(teacher))["type"] == "media.answer"
        await teacher.receive_type("media.tracks")  # announced to every joined socket, the trainee's too
        await asyncio.sleep(0.2)
        return tracks

    monkeypatch.setattr(MediaHub, "published_to", tracks_then_a_camera_publishes)
    connected, trainee = await media(live.trainee, live.session.pk)
    assert connected
    welcome = await trainee.receive(timeout=10)
    assert welcome["type"] == "welcome", welcome
    assert welcome["data"]["tracks"] == []  # read before the camera published
    announced = await trainee.receive_type("media.tracks")
    assert [t["kind"] for t in announced["tracks"]] == ["video"]
