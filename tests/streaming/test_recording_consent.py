"""Recording consent on the media socket (classrooms.services.consent): a trainee who has not agreed to be recorded
is never published while the session is recorded. A forged "accept the invitation" (media.publish) is refused, a
moderator's invitation says why, and a speaker who has not agreed is stopped, not recorded, when recording comes on."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from classrooms.models import AttendanceRecord, LiveSession, RecordingConsent
from classrooms.services.consent import recording_consent_record
from streaming.models import Recording
from tests.support.media import Camera, joined
from tests.support.recording import recording_switched

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("tasks_in_process", "recordings_dir"),
]


async def answer(live: Any, agreed: bool) -> None:
    session = await LiveSession.objects.aget(pk=live.session.pk)
    await sync_to_async(recording_consent_record)(session=session, user=live.trainee, agreed=agreed)


async def test_a_trainee_who_said_not_now_cannot_publish_in_a_recorded_session_even_when_invited(
    live: Any, media: Any, peers: list[Any]
) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    # Invited while nothing is recorded; then recording comes on and the trainee says "Not now".
    assert (await teacher.request({"type": "media.invite", "user_id": live.trainee.pk}))["type"] == "ack"
    assert (await trainee.receive_type("media.can_publish"))["can_publish"] is True
    await recording_switched(live, True)
    await answer(live, agreed=False)

    camera = Camera()
    peers.append(camera)
    refused = await camera.publish(trainee)
    assert refused["type"] == "error" and refused["code"] == "recording_consent_required"
    assert "not agreed to be recorded" in refused["message"]
    assert await sync_to_async(Recording.objects.filter(session=live.session).count)() == 0

    # Agreeing lets the same invitation be accepted.
    await answer(live, agreed=True)
    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(trainee))["type"] == "media.answer"


async def test_a_moderator_cannot_invite_a_trainee_who_has_not_agreed_while_recording(live: Any, media: Any) -> None:
    await recording_switched(live, True)
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    refused = await teacher.request({"type": "media.invite", "user_id": live.trainee.pk})
    assert refused["type"] == "error" and refused["code"] == "not_consented"

    await answer(live, agreed=True)
    assert (await teacher.request({"type": "media.invite", "user_id": live.trainee.pk}))["type"] == "ack"


async def test_recording_switched_on_stops_a_speaker_who_has_not_agreed_instead_of_recording_them(
    live: Any, media: Any, peers: list[Any]
) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, welcome = await joined(media, live.trainee, live.session.pk)
    assert (await teacher.request({"type": "media.invite", "user_id": live.trainee.pk}))["type"] == "ack"
    assert (await trainee.receive_type("media.can_publish"))["can_publish"] is True
    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(trainee))["type"] == "media.answer"

    await recording_switched(live, True)
    stopped = await trainee.receive_type("media.can_publish", timeout=10)
    assert stopped["can_publish"] is False
    left = await teacher.receive_type("media.publisher_left", timeout=10)
    assert left["publisher_id"] == welcome["peer_id"]
    assert await sync_to_async(Recording.objects.filter(session=live.session).count)() == 0
    record = await AttendanceRecord.objects.filter(session=live.session, user=live.trainee).afirst()
    assert record is None or record.recording_consent != RecordingConsent.AGREED
