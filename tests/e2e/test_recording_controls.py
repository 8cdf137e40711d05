"""Recording switched on and off from the live page, in real browsers: the moderator's toggle, the "● Recording"
indicator on every open page (and the room console), and the recording consent a trainee answers before the video
connects in a recorded session (kept with their attendance: the instructor reads it in the attendance report)."""

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Page, expect

from classrooms.models import AttendanceRecord, LiveSession
from tests import factories
from tests.support.browser import AsgiServer, Class, SignIn

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server: the pages reach the websockets."""
    return asgi_live_server


def open_live_page(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page.goto(f"{server.url}{live_class.path}")
    expect(page.get_by_role("heading", name="Cross-border networking lab")).to_be_visible()
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", "live")
    return page


def recorded(live_class: Class) -> bool:
    return LiveSession.objects.get(pk=live_class.session.pk).recorded


def test_the_instructor_switches_recording_and_every_open_page_shows_it_without_reloading(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    operator = factories.operator(first_name="Kai", last_name="Ong")
    live_class.singapore.operators.add(operator)
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    trainee.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    with translation.override("en"):
        console_path = reverse("classrooms:room-devices", kwargs={"room_id": live_class.singapore.pk})
    console = sign_in(operator)
    console.goto(f"{live_server.url}{console_path}")

    toggle = instructor.get_by_role("button", name="Record this session")
    indicator = trainee.locator("[data-recording-indicator]")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(indicator).to_be_hidden()
    expect(trainee.locator("#live-session")).to_have_attribute("data-recording", "off")
    expect(console.locator("[data-recording-indicator]")).to_have_count(0)
    # Trainees have no toggle.
    expect(trainee.get_by_role("button", name="Record this session")).to_have_count(0)

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(indicator).to_be_visible()
    expect(indicator).to_have_text("● Recording")
    # Switched on while the trainee is here: they are asked now, and answer "Not now".
    consent = trainee.get_by_role("dialog", name="This session is being recorded")
    expect(consent).to_be_visible()
    consent.get_by_role("button", name="Not now").click()
    expect(consent).to_be_hidden()
    expect(trainee.locator("[data-session-notice]")).to_contain_text("without being recorded")
    # Beside "Raise hand" they may still agree, which the instructor would need before inviting them to speak.
    reminder = trainee.locator("[data-consent-reminder]")
    expect(reminder).to_be_visible()
    reminder.get_by_role("button", name="Agree to be recorded").click()
    expect(consent).to_be_visible()
    consent.get_by_role("button", name="I agree to be recorded").click()
    expect(consent).to_be_hidden()
    expect(reminder).to_be_hidden()
    assert AttendanceRecord.objects.get(session=live_class.session, user=live_class.trainee).recording_consent == (
        "agreed"
    )
    expect(trainee.locator("#live-session")).to_have_attribute("data-recording", "on")
    expect(instructor.locator("[data-recording-indicator]")).to_be_visible()
    assert recorded(live_class)
    # The room console refreshes its panel every few seconds: the room's session is recorded.
    expect(console.locator("[data-recording-indicator]")).to_have_text("● Recording")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(indicator).to_be_hidden()
    expect(trainee.locator("#live-session")).to_have_attribute("data-recording", "off")
    expect(console.locator("[data-recording-indicator]")).to_have_count(0)
    assert not recorded(live_class)
    assert trainee.evaluate("window.stillTheSamePage") is True


def test_a_trainee_opening_a_recorded_session_agrees_before_the_video_connects_and_the_instructor_sees_it(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    LiveSession.objects.filter(pk=live_class.session.pk).update(recorded=True)
    trainee = sign_in(live_class.trainee)
    trainee.goto(f"{live_server.url}{live_class.path}")

    consent = trainee.get_by_role("dialog", name="This session is being recorded")
    expect(consent).to_be_visible()
    expect(consent).to_contain_text("yours too if you are invited to speak")
    expect(trainee.locator("[data-recording-indicator]")).to_be_visible()
    # Escape is not an answer; the video has not connected.
    trainee.keyboard.press("Escape")
    expect(consent).to_be_visible()
    trainee.wait_for_timeout(1000)
    assert trainee.evaluate("window.corridorMedia.state.socket === null")
    expect(trainee.locator("[data-media-connection]")).not_to_have_attribute("data-state", "live")

    # By keyboard: focus starts on "I agree to be recorded"; Tab reaches "Not now" and back.
    agree = consent.get_by_role("button", name="I agree to be recorded")
    expect(agree).to_be_focused()
    trainee.keyboard.press("Tab")
    expect(consent.get_by_role("button", name="Not now")).to_be_focused()
    trainee.keyboard.press("Shift+Tab")
    expect(agree).to_be_focused()
    trainee.keyboard.press("Enter")
    expect(consent).to_be_hidden()
    expect(trainee.locator("[data-media-connection]")).to_have_attribute("data-state", "live")
    expect(trainee.locator("[data-session-notice]")).to_have_text("You agreed to be recorded.")

    # The Chinese page asks in Chinese; Jun says "Not now" and still follows the class.
    chinese = sign_in(live_class.chongqing_trainee)
    with translation.override("zh-hans"):
        path = reverse("classrooms:live-session", kwargs={"session_id": live_class.session.pk})
        report_path = reverse("classrooms:attendance-report", kwargs={"session_id": live_class.session.pk})
    chinese.goto(f"{live_server.url}{path}")
    chinese_consent = chinese.get_by_role("dialog", name="本课堂正在录制")
    expect(chinese_consent).to_be_visible()
    chinese_consent.locator("[data-recording-consent-decline]").click()
    expect(chinese_consent).to_be_hidden()
    expect(chinese.locator("[data-media-connection]")).to_have_attribute("data-state", "live")

    # The instructor reads both answers in the attendance report, in English and in Chinese.
    instructor = sign_in(live_class.instructor)
    with translation.override("en"):
        english_report = reverse("classrooms:attendance-report", kwargs={"session_id": live_class.session.pk})
    instructor.goto(f"{live_server.url}{english_report}")
    table = instructor.locator("table.attendance-table")
    expect(table.get_by_role("columnheader", name="Recording consent")).to_be_visible()
    expect(table.locator("tbody tr", has_text="Mei Tan").locator("[data-recording-consent]")).to_contain_text("Agreed")
    expect(table.locator("tbody tr", has_text="Jun Zhao").locator("[data-recording-consent]")).to_contain_text(
        "Declined"
    )
    instructor.goto(f"{live_server.url}{report_path}")
    expect(instructor.locator("html")).to_have_attribute("lang", "zh-hans")
    rows = instructor.locator("table.attendance-table tbody tr")
    expect(rows.filter(has_text="Mei Tan").locator("[data-recording-consent]")).to_have_attribute(
        "data-recording-consent", "agreed"
    )
    expect(rows.filter(has_text="Jun Zhao").locator("[data-recording-consent]")).to_have_attribute(
        "data-recording-consent", "declined"
    )


def test_nobody_else_is_asked_and_an_unrecorded_session_asks_nobody(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    expect(trainee.locator("[data-recording-notice]")).to_be_hidden()
    expect(trainee.locator("[data-media-connection]")).to_have_attribute("data-state", "live")

    LiveSession.objects.filter(pk=live_class.session.pk).update(recorded=True)
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)
    expect(instructor.locator("[data-recording-notice]")).to_have_count(0)
    expect(instructor.locator("[data-recording-indicator]")).to_be_visible()
    expect(instructor.get_by_role("button", name="Record this session")).to_have_attribute("aria-pressed", "true")
