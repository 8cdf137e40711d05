"""What the live page renders about recording before its script runs: the root's data-recording, the indicator,
the moderators' toggle, and the consent a trainee is asked for in a recorded session."""

import re
from typing import Any

import pytest
from django.test import Client

from classrooms.models import AttendanceRecord, LiveSession, RecordingConsent, SessionState
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(db: Any) -> LiveSession:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    room = RoomFactory.create(city="singapore")
    return LiveSessionFactory.create(course=course, instructor=factories.instructor(), rooms=[room], recorded=True)


def page(session: LiveSession, user: Any) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/en/live/sessions/{session.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def trainee_of(session: LiveSession) -> Any:
    trainee = factories.trainee()
    enrol(trainee, session.course)
    return trainee


def root(html: str) -> str:
    found = re.search(r'<div class="live-session" id="live-session"[^>]*>', html)
    assert found, "the page has its #live-session root"
    return found.group(0)


def indicator(html: str) -> str:
    found = re.search(r"<p [^>]*data-recording-indicator[^>]*>", html)
    assert found
    return found.group(0)


def test_a_trainee_in_a_recorded_session_sees_the_indicator_and_is_asked_first(session: LiveSession) -> None:
    html = page(session, trainee_of(session))
    assert 'data-recording="on"' in root(html)
    assert "hidden" not in indicator(html)
    assert '<span aria-hidden="true">●</span> Recording</p>' in html
    assert "<dialog" in html and "This session is being recorded" in html
    assert "I agree to be recorded" in html and "Not now" in html
    assert "data-ask-now" in html  # asked as the page opens, before the video connects
    assert "data-recording-toggle" not in html  # trainees do not switch it


def test_the_instructor_gets_the_toggle_pressed_and_no_notice(session: LiveSession) -> None:
    html = page(session, session.instructor)
    toggle = re.search(r"<button [^>]*data-recording-toggle[^>]*>", html)
    assert toggle and 'aria-pressed="true"' in toggle.group(0) and "disabled" not in toggle.group(0)
    assert "data-recording-notice" not in html  # the notice is for trainees (the page has the End dialog)


def test_an_unrecorded_session_shows_no_indicator_and_asks_nobody(session: LiveSession) -> None:
    LiveSession.objects.filter(pk=session.pk).update(recorded=False)
    html = page(session, trainee_of(session))
    assert 'data-recording="off"' in root(html)
    assert "hidden" in indicator(html)
    # The trainee's consent dialog is there (recording may come on later) but does not open.
    assert "data-recording-notice" in html and "data-ask-now" not in html
    toggle = re.search(r"<button [^>]*data-recording-toggle[^>]*>", page(session, factories.administrator()))
    assert toggle and 'aria-pressed="false"' in toggle.group(0)


def test_an_ended_session_is_recorded_no_more_and_its_toggle_is_disabled(session: LiveSession) -> None:
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.ENDED)
    html = page(session, session.instructor)
    assert 'data-recording="off"' in root(html)
    toggle = re.search(r"<button [^>]*data-recording-toggle[^>]*>", html)
    assert toggle and "disabled" in toggle.group(0)
    assert "data-ask-now" not in page(session, trainee_of(session))


def test_a_trainee_who_agreed_is_not_asked_again(session: LiveSession) -> None:
    trainee = trainee_of(session)
    AttendanceRecord.objects.create(session=session, user=trainee, recording_consent=RecordingConsent.AGREED)
    html = page(session, trainee)
    assert 'data-recording-consent="agreed"' in html and "data-ask-now" not in html
    declined = trainee_of(session)
    AttendanceRecord.objects.create(session=session, user=declined, recording_consent=RecordingConsent.DECLINED)
    assert "data-ask-now" in page(session, declined)  # "Not now" is asked again next time
