"""The timetable and the live page show a session's time on the reader's own clock (their browser's time zone) beside
the city time, so a remote trainee in Jakarta or Sydney reads their own; nothing is repeated when the clocks agree."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import Page, expect

from classrooms.models import LiveSession, SessionState
from tests.support.browser import AsgiServer, Class, SignIn

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server: the live page opens its websockets."""
    return asgi_live_server


@pytest.fixture
def tomorrow_at_nine(live_class: Class) -> datetime:
    """The session moves to 09:00–10:30 Singapore time tomorrow (01:00 UTC), still to come."""
    day = (timezone.now() + timedelta(days=1)).date()
    starts = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    LiveSession.objects.filter(pk=live_class.session.pk).update(
        starts_at=starts, ends_at=starts + timedelta(minutes=90), state=SessionState.SCHEDULED
    )
    return starts


def on_clock(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M}–{local + timedelta(minutes=90):%H:%M}"


def timetable(page: Page, server: AsgiServer) -> Page:
    with translation.override("en"):
        page.goto(f"{server.url}{reverse('classrooms:timetable')}")
    expect(page.get_by_role("heading", name="Timetable", exact=True)).to_be_visible()
    return page


@pytest.mark.parametrize("zone", ["Australia/Sydney", "Asia/Jakarta"])
def test_a_remote_trainee_reads_the_time_on_their_own_clock_beside_singapores(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, tomorrow_at_nine: datetime, zone: str
) -> None:
    page = timetable(sign_in(live_class.trainee, timezone_id=zone), live_server)
    entry = page.locator(".timetable-entry").filter(has_text="Cross-border networking lab")
    expect(entry.locator(".local-time")).to_have_text("09:00–10:30")
    expect(entry.locator(".city-label")).to_have_text("Singapore time")
    expect(entry.locator("[data-viewer-time]")).to_have_text(f"· {on_clock(tomorrow_at_nine, zone)} your time ({zone})")

    # The session's page says it in its header too.
    page.goto(f"{live_server.url}{live_class.path}")
    header = page.locator(".live-when")
    expect(header).to_contain_text("09:00–10:30")
    expect(header.locator("[data-viewer-time]")).to_have_text(
        f"· {on_clock(tomorrow_at_nine, zone)} your time ({zone})"
    )


def test_another_day_on_the_readers_calendar_is_named(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, tomorrow_at_nine: datetime
) -> None:
    page = timetable(sign_in(live_class.trainee, timezone_id="Pacific/Honolulu"), live_server)
    spot = page.locator("[data-viewer-time]").first
    honolulu = tomorrow_at_nine.astimezone(ZoneInfo("Pacific/Honolulu"))
    expect(spot).to_contain_text(f"{on_clock(tomorrow_at_nine, 'Pacific/Honolulu')} your time (Pacific/Honolulu)")
    assert honolulu.date() == tomorrow_at_nine.date() - timedelta(days=1)  # the day before, on a Hawaiian calendar
    expect(spot).to_contain_text(f"{honolulu:%a}")  # its weekday, before the times


@pytest.mark.parametrize("zone", ["Asia/Singapore", "Asia/Shanghai"])
def test_nothing_is_repeated_when_the_browser_keeps_a_clock_the_page_shows(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, tomorrow_at_nine: datetime, zone: str
) -> None:
    page = timetable(sign_in(live_class.trainee, timezone_id=zone), live_server)
    entry = page.locator(".timetable-entry").filter(has_text="Cross-border networking lab")
    expect(entry.locator(".local-time")).to_have_text("09:00–10:30")
    expect(entry.locator(".other-city")).to_be_visible()
    expect(entry.locator("[data-viewer-time]")).to_be_hidden()
    page.goto(f"{live_server.url}{live_class.path}")
    expect(page.locator(".live-when")).to_contain_text("09:00–10:30")
    expect(page.locator(".live-when [data-viewer-time]")).to_be_hidden()
