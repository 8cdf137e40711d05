"""Recording switched on and off by moderators (classrooms.services.recording), on the socket and in the service."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.dispatch import receiver

from classrooms.models import LiveEvent, LiveSession, SessionState
from classrooms.services.recording import session_recording_switch
from classrooms.services.sessions import session_set_state
from classrooms.signals import session_recording_changed
from lms.errors import CorridorError
from tests.classrooms.factories import LiveSessionFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def recorded(session: LiveSession) -> bool:
    return LiveSession.objects.get(pk=session.pk).recorded


def recording_events(session: LiveSession) -> list[dict[str, Any]]:
    return list(LiveEvent.objects.filter(session=session, kind="session.recording").values_list("payload", flat=True))


@pytest.fixture
def heard() -> Any:
    """What streaming would hear: the signal's arguments, in order."""
    calls: list[tuple[int, bool]] = []

    @receiver(session_recording_changed, sender=LiveSession, weak=False)
    def listen(sender: Any, session: LiveSession, recorded: bool, **kwargs: Any) -> None:
        calls.append((session.pk, recorded))

    yield calls
    session_recording_changed.disconnect(listen, sender=LiveSession)


# The service ------------------------------------------------------------------------------------------------------


def test_the_instructor_and_an_administrator_switch_recording_and_everyone_is_told(live: Any, heard: Any) -> None:
    session_recording_switch(session=live.session, by=live.instructor, recorded=True)
    assert recorded(live.session)
    session_recording_switch(session=live.session, by=live.admin, recorded=False)
    assert not recorded(live.session)
    assert recording_events(live.session) == [{"recorded": True}, {"recorded": False}]
    assert heard == [(live.session.pk, True), (live.session.pk, False)]


def test_switching_to_what_it_already_is_tells_nobody(live: Any, heard: Any) -> None:
    session_recording_switch(session=live.session, by=live.instructor, recorded=False)
    assert recording_events(live.session) == [] and heard == []


@pytest.mark.parametrize("who", ["trainee", "operator", "outsider"])
def test_anyone_else_is_refused_and_nothing_changes(live: Any, heard: Any, who: str) -> None:
    with pytest.raises(CorridorError) as refused:
        session_recording_switch(session=live.session, by=getattr(live, who), recorded=True)
    assert refused.value.code == "forbidden"
    assert "Only the instructor or a moderator" in str(refused.value.message)
    assert not recorded(live.session) and recording_events(live.session) == [] and heard == []


def test_an_ended_session_cannot_be_switched_even_through_an_object_read_before_it_ended(live: Any, heard: Any) -> None:
    opened_earlier = LiveSession.objects.get(pk=live.session.pk)  # as a page or socket opened before the end holds it
    session_set_state(session=LiveSession.objects.get(pk=live.session.pk), state=SessionState.ENDED)
    assert opened_earlier.state == SessionState.LIVE
    with pytest.raises(CorridorError) as refused:
        session_recording_switch(session=opened_earlier, by=live.instructor, recorded=True)
    assert refused.value.code == "session_ended"
    assert not recorded(live.session) and recording_events(live.session) == [] and heard == []


# The socket -------------------------------------------------------------------------------------------------------


async def joined(connect: Any, user: Any, session: Any) -> Any:
    connected, _, client = await connect(user, session.pk)
    assert connected
    welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    client.welcome = welcome["data"]
    return client


async def test_a_moderator_switches_recording_on_the_socket_and_every_page_hears_at_once(
    connect: Any, live: Any
) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)
    assert trainee.welcome["session"]["recorded"] is False

    reply = await instructor.request({"type": "session.recording", "recorded": True})
    assert reply["type"] == "ack" and reply["recorded"] is True
    event = await trainee.receive_type("session.recording")
    assert event["data"] == {"recorded": True}
    assert await sync_to_async(recorded)(live.session)

    # A page that reconnects starts from a welcome that says so.
    again = await joined(connect, live.trainee, live.session)
    assert again.welcome["session"]["recorded"] is True
    assert again.welcome["last_event_id"] >= event["event_id"]

    await instructor.request({"type": "session.recording", "recorded": False})
    assert (await trainee.receive_type("session.recording"))["data"] == {"recorded": False}


async def test_a_trainee_or_operator_on_the_socket_is_refused_and_nothing_changes(connect: Any, live: Any) -> None:
    for user in (live.trainee, live.operator):
        client = await joined(connect, user, live.session)
        reply = await client.request({"type": "session.recording", "recorded": True})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    assert not await sync_to_async(recorded)(live.session)
    assert await sync_to_async(recording_events)(live.session) == []


async def test_a_malformed_switch_is_refused_by_its_schema(connect: Any, live: Any) -> None:
    instructor = await joined(connect, live.instructor, live.session)
    for bad in ({"type": "session.recording"}, {"type": "session.recording", "recorded": "on"}):
        reply = await instructor.request(bad)
        assert reply["code"] == "invalid_message" and "recorded" in reply["message"]
    assert not await sync_to_async(recorded)(live.session)


async def test_an_ended_session_refuses_the_switch_on_a_socket_opened_before(connect: Any, live: Any) -> None:
    instructor = await joined(connect, live.instructor, live.session)
    await sync_to_async(session_set_state)(
        session=await LiveSession.objects.aget(pk=live.session.pk), state=SessionState.ENDED
    )
    reply = await instructor.request({"type": "session.recording", "recorded": True})
    assert reply["code"] == "session_ended"
    assert not await sync_to_async(recorded)(live.session)


async def test_a_forged_session_id_changes_only_the_sockets_own_session_and_a_strangers_socket_is_refused(
    connect: Any, live: Any
) -> None:
    other = await sync_to_async(LiveSessionFactory.create)(course=live.course, instructor=live.admin)
    instructor = await joined(connect, live.instructor, live.session)
    reply = await instructor.request({"type": "session.recording", "recorded": True, "session_id": other.pk})
    assert reply["type"] == "ack"
    assert await sync_to_async(recorded)(live.session)
    assert not await sync_to_async(recorded)(other)  # the message names no session: the socket's own is switched

    # The instructor of one session is nobody in another: its socket refuses them before any message.
    _, _, stranger = await connect(live.instructor, other.pk)
    frame = await stranger.receive()
    assert frame["code"] == "forbidden"
    assert await sync_to_async(recording_events)(other) == []
