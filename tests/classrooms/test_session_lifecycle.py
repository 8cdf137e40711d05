"""A session's life from the live page and its socket: Start (from 15 minutes before), End (for good), the lobby,
and refusals that change nothing (non-moderators, forged ids, wrong states, a stale socket)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from classrooms.models import LiveEvent, LiveSession, SessionState
from classrooms.services.sessions import session_end, session_start
from classrooms.signals import session_ended
from lms.errors import CorridorError
from lms.timezones import SCHEDULING_TIME_ZONE
from tests.classrooms.factories import LiveSessionFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def scheduled(live: Any, *, starts_in: timedelta) -> LiveSession:
    """A scheduled session of `live`'s course, room and instructor, starting `starts_in` from now."""
    starts_at = timezone.now() + starts_in
    return LiveSessionFactory.create(
        course=live.course,
        instructor=live.instructor,
        rooms=[live.room],
        state=SessionState.SCHEDULED,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
    )


def refused(code: str, service: Any, **kwargs: Any) -> None:
    with pytest.raises(CorridorError) as raised:
        service(**kwargs)
    assert raised.value.code == code, raised.value.message


def state_events(session: LiveSession) -> list[Any]:
    return list(LiveEvent.objects.filter(session=session, kind="session.state").values_list("payload", flat=True))


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_state(user: Any, session_id: int, state: str, *, language: str = "en") -> Any:
    return browser(user).post(
        f"/{language}/live/sessions/{session_id}/state/", {"state": state}, HTTP_ACCEPT="application/json"
    )


# The services ----------------------------------------------------------------------------------------------


def test_start_opens_fifteen_minutes_before_the_scheduled_start(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(minutes=20))
    refused("too_early", session_start, session=session, by=live.instructor)
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED and state_events(session) == []

    now = session.starts_at - timedelta(minutes=15)
    started = session_start(session=session, by=live.instructor, now=now)
    assert (started.state, started.live_since) == (SessionState.LIVE, now)
    assert state_events(session) == [{"state": "live"}]
    refused("already_live", session_start, session=session, by=live.instructor)


def test_only_the_instructor_or_an_administrator_may_start_and_end(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(minutes=5))
    for user in (live.trainee, live.operator, live.outsider):
        refused("forbidden", session_start, session=session, by=user)
        refused("forbidden", session_end, session=session, by=user)
    session.refresh_from_db()
    assert (session.state, session.live_since, session.live_until) == (SessionState.SCHEDULED, None, None)
    assert session_start(session=session, by=live.admin).state == SessionState.LIVE


def test_ending_is_for_good_and_tells_streaming_to_close_the_recordings(live: Any) -> None:
    told: list[int] = []

    def heard(sender: Any, session: LiveSession, **kwargs: Any) -> None:
        told.append(session.pk)

    session_ended.connect(heard, sender=LiveSession)
    try:
        ended = session_end(session=live.session, by=live.instructor)
    finally:
        session_ended.disconnect(heard, sender=LiveSession)
    assert told == [live.session.pk]
    assert ended.state == SessionState.ENDED and ended.live_until is not None
    refused("session_ended", session_start, session=live.session, by=live.instructor)
    refused("session_ended", session_end, session=live.session, by=live.instructor)
    assert state_events(live.session) == [{"state": "ended"}]


def test_a_stale_copy_of_the_session_cannot_make_an_ended_session_live_again(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(minutes=5))
    stale = LiveSession.objects.get(pk=session.pk)  # read before the end, as a socket opened earlier holds it
    session_end(session=LiveSession.objects.get(pk=session.pk), by=live.instructor)
    assert stale.state == SessionState.SCHEDULED
    refused("session_ended", session_start, session=stale, by=live.instructor)
    session.refresh_from_db()
    assert session.state == SessionState.ENDED and session.live_since is None


# Over HTTP: the live page's buttons ------------------------------------------------------------------------


def test_the_instructor_starts_and_ends_from_the_page(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(minutes=10))
    answer = post_state(live.instructor, session.pk, "live")
    assert answer.status_code == 200 and answer.json()["state"] == "live"
    answer = post_state(live.instructor, session.pk, "ended")
    assert answer.status_code == 200 and answer.json()["state"] == "ended"
    session.refresh_from_db()
    assert session.state == SessionState.ENDED
    # Without the page's script: the form posts, and the page comes back.
    again = browser(live.instructor).post(f"/en/live/sessions/{session.pk}/state/", {"state": "live"})
    assert again.status_code == 409 and "cannot be started again" in again.content.decode()


def test_the_page_refuses_non_moderators_forged_ids_and_wrong_states_and_changes_nothing(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(minutes=10))
    trainee = post_state(live.trainee, session.pk, "live")
    assert trainee.status_code == 403
    assert trainee.json()["error"]["message"] == "Only the instructor or a moderator can do that."
    assert post_state(live.operator, session.pk, "live").status_code == 403
    assert post_state(live.outsider, session.pk, "live").status_code == 404  # not theirs to know about
    assert post_state(live.instructor, 999999, "live").status_code == 404
    # A session of the same course taught by someone else: not theirs to start.
    elsewhere = LiveSessionFactory.create(
        course=live.course, instructor=live.admin, state=SessionState.SCHEDULED, starts_at=session.starts_at
    )
    assert post_state(live.instructor, elsewhere.pk, "live").status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.state == SessionState.SCHEDULED
    wrong = post_state(live.instructor, session.pk, "scheduled")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_state"
    assert browser(live.instructor).get(f"/en/live/sessions/{session.pk}/state/").status_code == 405
    anonymous = Client().post(f"/en/live/sessions/{session.pk}/state/", {"state": "live"})
    assert anonymous.status_code == 302  # to sign in
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED and state_events(session) == []


def test_too_early_says_from_when_starting_is_possible(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(hours=2))
    answer = post_state(live.instructor, session.pk, "live")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "too_early"
    opens = timezone.localtime(session.starts_at - timedelta(minutes=15), SCHEDULING_TIME_ZONE)
    assert f"{opens:%H:%M}" in answer.json()["error"]["message"]


def test_the_page_puts_trainees_in_a_lobby_and_gives_moderators_start_and_end(live: Any) -> None:
    session = scheduled(live, starts_in=timedelta(hours=1))
    page = browser(live.trainee).get(f"/en/live/sessions/{session.pk}/").content.decode()
    assert 'id="session-lobby"' in page and 'id="session-start"' not in page
    assert "data-live-grid hidden" in page
    page = browser(live.instructor).get(f"/en/live/sessions/{session.pk}/").content.decode()
    assert 'id="session-lobby"' not in page
    assert 'id="session-start"' in page and 'id="session-end"' in page and 'id="session-end-dialog"' in page
    start_button = page[page.index('id="session-start"') : page.index(">", page.index('id="session-start"'))]
    assert "disabled" in start_button  # an hour ahead: not yet
    assert "15 minutes before it is scheduled to begin" in page
    live_page = browser(live.trainee).get(f"/en/live/sessions/{live.session.pk}/").content.decode()
    assert "data-lobby aria-labelledby" in live_page and "data-live-grid hidden" not in live_page


# Over the socket ---------------------------------------------------------------------------------------------


async def joined(connect: Any, user: Any, session: Any) -> Any:
    connected, _, client = await connect(user, session.pk)
    assert connected
    welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    return client


async def test_a_socket_start_reaches_every_open_page_and_trainees_cannot(connect: Any, live: Any) -> None:
    session = await sync_to_async(scheduled)(live, starts_in=timedelta(minutes=10))
    trainee = await joined(connect, live.trainee, session)
    instructor = await joined(connect, live.instructor, session)
    refusal = await trainee.request({"type": "session.state", "state": "live"})
    assert refusal["code"] == "forbidden"
    assert (await instructor.request({"type": "session.state", "state": "scheduled"}))["code"] == "invalid_state"
    assert (await sync_to_async(LiveSession.objects.get)(pk=session.pk)).state == SessionState.SCHEDULED

    ack = await instructor.request({"type": "session.state", "state": "live"})
    assert ack["type"] == "ack" and ack["state"] == "live"
    assert (await trainee.receive_type("session.state"))["data"] == {"state": "live"}


async def test_a_socket_opened_before_the_end_cannot_reopen_the_session(connect: Any, live: Any) -> None:
    early = await joined(connect, live.instructor, live.session)  # holds the session as it was: live
    await sync_to_async(post_state)(live.admin, live.session.pk, "ended")
    assert (await early.receive_type("session.state"))["data"] == {"state": "ended"}
    refusal = await early.request({"type": "session.state", "state": "live"})
    assert refusal["code"] == "session_ended"
    stored = await sync_to_async(LiveSession.objects.get)(pk=live.session.pk)
    assert stored.state == SessionState.ENDED
    assert await sync_to_async(state_events)(live.session) == [{"state": "ended"}]
