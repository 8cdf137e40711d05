"""A session's life in two browsers: a trainee waits in the lobby (a countdown) while the instructor presses Start on
the live page; the trainee's page lets them in without a reload, and End (confirmed in a dialog) shows the session
ended on both pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from classrooms.models import LiveSession, SessionState
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


def scheduled_in_five_minutes(live_class: Class) -> None:
    starts_at = timezone.now() + timedelta(minutes=5)
    LiveSession.objects.filter(pk=live_class.session.pk).update(
        state=SessionState.SCHEDULED, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1)
    )


def open_live_page(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page.goto(f"{server.url}{live_class.path}")
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    return page


def test_the_instructor_starts_and_ends_while_a_trainee_waits_in_the_lobby(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    in_another_thread(lambda: scheduled_in_five_minutes(live_class))
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)

    # The trainee waits: a countdown to the start, nothing of the class yet, no video connection.
    lobby = trainee.locator("#session-lobby")
    expect(lobby).to_be_visible()
    expect(lobby.locator("[data-lobby-countdown]")).to_contain_text("Starts in 0")
    first = int(lobby.locator("[data-lobby-countdown]").get_attribute("data-seconds-left") or 0)
    assert 240 < first <= 300
    trainee.wait_for_timeout(1500)
    assert int(lobby.locator("[data-lobby-countdown]").get_attribute("data-seconds-left") or 0) < first
    expect(trainee.locator("[data-live-grid]")).to_be_hidden()
    expect(trainee.locator("#session-state")).to_have_attribute("data-session-state", "scheduled")
    expect(trainee.locator("[data-media-connection]")).to_have_attribute("data-state", "waiting")
    assert trainee.evaluate("window.corridorMedia.state.socket") is None  # no media socket before the start
    expect(trainee.locator("#session-start")).to_have_count(0)  # trainees get no Start

    # The instructor may start five minutes early.
    start = instructor.locator("#session-start")
    expect(start).to_be_enabled()
    start.click()
    for page in (instructor, trainee):
        expect(page.locator("#session-state")).to_have_attribute("data-session-state", "live")
        expect(page.locator("#session-state")).to_have_text("Live")
    expect(lobby).to_be_hidden()
    expect(trainee.locator("[data-live-grid]")).to_be_visible()
    expect(trainee.get_by_role("heading", name="Questions")).to_be_visible()
    expect(trainee.locator("[data-media-connection]")).to_have_attribute("data-state", "live")
    expect(instructor.locator("#session-start")).to_be_hidden()

    # End asks first; keeping it running changes nothing.
    instructor.locator("#session-end").click()
    dialog = instructor.locator("#session-end-dialog")
    expect(dialog).to_be_visible()
    expect(instructor.locator("#session-end-cancel")).to_be_focused()
    instructor.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(trainee.locator("#session-state")).to_have_attribute("data-session-state", "live")

    instructor.locator("#session-end").click()
    instructor.locator("#session-end-confirm").click()
    for page in (instructor, trainee):
        expect(page.locator("#session-state")).to_have_attribute("data-session-state", "ended")
        expect(page.locator("[data-session-notice]")).to_have_text("This session has ended.")
        expect(page.locator("[data-media-connection]")).to_have_attribute("data-state", "ended")
    expect(instructor.locator("#session-end")).to_be_hidden()
    assert trainee.evaluate("window.sameDocument") is True and instructor.evaluate("window.sameDocument") is True
    stored = LiveSession.objects.get(pk=live_class.session.pk)
    assert stored.state == SessionState.ENDED and stored.live_since is not None and stored.live_until is not None
