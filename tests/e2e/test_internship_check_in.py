"""A live check-in in Chromium (issue 16 item 11): the supervisor schedules a one-to-one check-in with their intern
from the dashboard, opens it and starts it on the live page; the intern joins from their internship page; each
publishes their (fake) camera and microphone and sees the other's picture moving (decoded frames rising); the
supervisor ends it and writes its notes, and the dashboard's "last check-in" shows the day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from internships.models import CheckIn, LiveCheckIn
from lms.timezones import SCHEDULING_TIME_ZONE
from tests import factories
from tests.support.browser import AsgiServer, SignIn, in_another_thread

pytestmark = pytest.mark.e2e

MEASURE_SECONDS = 3
MIN_FRAMES = 20  # over MEASURE_SECONDS: a moving picture (Chromium's fake camera sends 30 fps)

# Per remote track, what this page received and decoded over a few seconds (window.corridorMedia.trackStats()).
MEASURE_TRACKS = """
async (seconds) => {
  const before = await window.corridorMedia.trackStats();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = await window.corridorMedia.trackStats();
  return Object.entries(after).map(([trackId, now]) => {
    const then = before[trackId] || {};
    return {
      kind: now.kind, label: now.label,
      frames: now.framesDecoded - (then.framesDecoded || 0),
      samples: now.totalSamplesReceived - (then.totalSamplesReceived || 0),
    };
  });
}
"""


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


@pytest.fixture
def internship(e2e_db: None) -> dict[str, Any]:
    """Grace supervises Mei's placement; its internship holds its check-ins under a course; Wei, enrolled in that
    course, is not in the call."""
    found: dict[str, Any] = {}

    def build() -> None:
        supervisor = factories.supervisor(first_name="Grace", last_name="Ho")
        supervisor.set_password(factories.PASSWORD)  # the browser signs in with a password (links: test_internships)
        supervisor.save()
        placement = factories.placement(
            intern=factories.trainee(first_name="Mei", last_name="Tan"), supervisor_user=supervisor
        )
        found.update(placement=placement, supervisor=supervisor, intern=placement.intern)
        found["course"] = factories.check_in_course(placement)

    in_another_thread(build)
    return found


def measure(page: Page) -> dict[tuple[str, str], dict[str, Any]]:
    seen = page.evaluate(MEASURE_TRACKS, MEASURE_SECONDS)
    print(f"measured: {seen}")
    return {(track["label"], track["kind"]): track for track in seen}


def tile(page: Page, label: str) -> Any:
    return page.locator(f'[data-remote-tile][data-label="{label}"]')


def publish(page: Page) -> None:
    page.get_by_role("button", name="Publish my camera").click()
    expect(page.get_by_role("button", name="Stop publishing")).to_be_visible()


def test_a_supervisor_and_an_intern_hold_a_check_in_on_the_live_page_and_its_notes_are_kept(
    live_server: AsgiServer, sign_in: SignIn, internship: dict[str, Any]
) -> None:
    placement = internship["placement"]
    # Five minutes from now, on the supervisor's city's clock (a check-in may be started 15 minutes early).
    starts = (timezone.now() + timedelta(minutes=6)).astimezone(SCHEDULING_TIME_ZONE)

    # The supervisor schedules it from the dashboard (the intern's row leads to the form).
    grace = sign_in(internship["supervisor"])
    grace.goto(f"{live_server.url}/en/internships/supervise/")
    grace.locator(f'[data-placement="{placement.pk}"]').get_by_role("link", name="Schedule a check-in").click()
    form = grace.locator("#schedule-check-in")
    form.get_by_label("Day").fill(starts.date().isoformat())
    form.get_by_label("Time").fill(starts.strftime("%H:%M"))
    form.get_by_label("Length").select_option(label="30 minutes")
    form.get_by_role("button", name="Schedule the check-in").click()
    expect(grace.get_by_text(f"Check-in with Mei Tan scheduled for {starts:%Y-%m-%d %H:%M}")).to_be_visible()
    live = LiveCheckIn.objects.select_related("session").get(placement=placement)

    # The dashboard shows the next check-in; the supervisor opens it and starts it.
    grace.goto(f"{live_server.url}/en/internships/supervise/")
    grace.get_by_role("link", name=f"Join the check-in of {starts:%Y-%m-%d %H:%M} (UTC+8)").click()
    expect(grace.locator("#session-state")).to_have_attribute("data-session-state", "scheduled")
    grace.locator("#session-start").click()
    expect(grace.locator("#session-state")).to_have_attribute("data-session-state", "live")

    # The intern joins from their internship page.
    mei = sign_in(internship["intern"])
    mei.goto(f"{live_server.url}/en/internships/")
    mei.get_by_role("link", name="Join the check-in with Grace Ho").click()
    expect(mei.locator("#session-state")).to_have_attribute("data-session-state", "live")
    for page in (grace, mei):
        expect(page.locator("[data-media-connection]")).to_have_attribute("data-state", "live")

    # Both publish camera and microphone (the intern without being invited: the call is theirs), and each sees
    # the other's picture moving.
    publish(grace)
    publish(mei)
    for page, other in ((grace, "Mei Tan"), (mei, "Grace Ho")):
        expect(tile(page, other)).to_be_visible(timeout=20_000)
        expect(tile(page, other).locator(".media-label")).to_have_text(other)
    for page, other in ((grace, "Mei Tan"), (mei, "Grace Ho")):
        arrived = measure(page)
        video, audio = arrived.get((other, "video")), arrived.get((other, "audio"))
        assert video is not None and video["frames"] >= MIN_FRAMES, f"{other}'s picture is not moving: {video}"
        assert audio is not None and audio["samples"] > 0, f"{other} is not heard: {audio}"

    # Someone else enrolled in the course cannot open it.
    def classmate() -> Any:
        from tests.classrooms.factories import enrol

        person = factories.trainee(first_name="Wei", last_name="Lin")
        enrol(person, internship["course"])
        return person

    found: list[Any] = []
    in_another_thread(lambda: found.append(classmate()))
    wei = sign_in(found[0])
    response = wei.goto(f"{live_server.url}/en/live/sessions/{live.session_id}/")
    assert response is not None and response.status == 404

    # The supervisor ends it; both pages say so.
    grace.locator("#session-end").click()
    grace.locator("#session-end-confirm").click()
    for page in (grace, mei):
        expect(page.locator("#session-state")).to_have_attribute("data-session-state", "ended")

    # Then writes its notes on the intern's page; the dashboard's last check-in is today.
    grace.goto(f"{live_server.url}/en/internships/supervise/placements/{placement.pk}/")
    grace.get_by_label("Notes of this check-in").fill("Sensors on track; next: the test plan.")
    grace.get_by_role("button", name="Save the notes").click()
    held_on = timezone.localtime(timezone.now(), SCHEDULING_TIME_ZONE).date().isoformat()
    expect(grace.get_by_text(f"Check-in of {held_on} recorded.")).to_be_visible()
    expect(grace.locator(".check-ins")).to_contain_text("Sensors on track; next: the test plan.")
    grace.goto(f"{live_server.url}/en/internships/supervise/")
    expect(grace.locator(f'[data-placement="{placement.pk}"] .last-check-in')).to_have_text(held_on)
    assert CheckIn.objects.get(placement=placement).live_id == live.pk
