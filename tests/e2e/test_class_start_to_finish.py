"""A class run from the screens, start to finish, with both rooms' real agents (issue 13's acceptance test).

The instructor opens the timetable, opens the session's page, switches recording on and presses Start; both rooms'
agents (`python -m classrooms.agent`, processes of their own, never told to stream by an operator) start publishing
by themselves. A Singapore trainee and a remote trainee, each in a browser of their own, see both rooms' pictures
moving and hear both rooms; the remote trainee raises a hand, is invited, accepts, and the other trainee sees and
hears them. The instructor ends the session; the course page then offers one recording, which the trainee downloads
and which plays (probed with PyAV).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from classrooms.agent.sources import TINTS
from classrooms.models import LiveSession, SessionState
from streaming.composer import Tile, grid_layout
from streaming.models import CompositionState, SessionComposition
from tests.support.agents import RoomAgentProcess
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread
from tests.support.composition import audio_spectrum, frame_at, played, tone_strength
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.real_worker]

SINGAPORE = "Marina Bay Lab · Singapore"
CHONGQING = "Jiefangbei Studio · Chongqing"
# Each room's agent tints its test picture and sounds its own tone, to be found again in the recording.
SINGAPORE_SIGNATURE = ("red", 440)
CHONGQING_SIGNATURE = ("blue", 660)
MEASURE_SECONDS = 3
MIN_FRAMES = 20  # over MEASURE_SECONDS: moving pictures (the agents send 30 fps, Chromium's fake camera 30)
COMPOSE_TIMEOUT_S = 240

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
      energy: now.totalAudioEnergy - (then.totalAudioEnergy || 0),
    };
  });
}
"""


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


@pytest.fixture
def class_about_to_start(live_class: Class) -> Class:
    """The class as scheduling leaves it: starting in five minutes, not recorded unless someone says so."""

    def schedule() -> None:
        starts_at = timezone.now() + timedelta(minutes=5)
        LiveSession.objects.filter(pk=live_class.session.pk).update(
            state=SessionState.SCHEDULED, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), recorded=False
        )

    in_another_thread(schedule)
    return live_class


@pytest.fixture
def room_agents(live_server: AsgiServer, class_about_to_start: Class, tmp_path: Path) -> Iterator[None]:
    """Both rooms' agents, running as `make run` starts them; no operator asks them to stream."""
    agents = [
        RoomAgentProcess(
            server=live_server,
            room=room,
            log=tmp_path / f"agent-{room.pk}.log",
            stream=False,
            options=("--tint", tint, "--tone-hz", str(hz)),
        )
        for room, (tint, hz) in (
            (class_about_to_start.singapore, SINGAPORE_SIGNATURE),
            (class_about_to_start.chongqing, CHONGQING_SIGNATURE),
        )
    ]
    try:
        yield
    finally:
        for agent in agents:
            agent.stop()
            print(f"--- an agent's output ---\n{agent.output()}")  # pytest shows it when the test fails


@pytest.fixture
def workers() -> Iterator[None]:
    """With a broker, a real Celery worker (in a thread) uploads and composes; without one, tasks run where they
    are sent (in the server), as under `make run`."""
    if not os.environ.get("REDIS_URL"):
        yield
        return
    from celery.contrib.testing.worker import start_worker

    from lms.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


def measure(page: Page) -> dict[tuple[str, str], dict[str, Any]]:
    """(label, kind) → what arrived over MEASURE_SECONDS."""
    seen = page.evaluate(MEASURE_TRACKS, MEASURE_SECONDS)
    print(f"measured: {seen}")
    return {(track["label"], track["kind"]): track for track in seen}


def assert_seen_and_heard(page: Page, labels: list[str]) -> None:
    arrived = measure(page)
    for label in labels:
        video, audio = arrived.get((label, "video")), arrived.get((label, "audio"))
        assert video is not None and video["frames"] >= MIN_FRAMES, f"{label}'s picture is not moving: {video}"
        assert audio is not None and audio["samples"] > 0 and audio["energy"] > 0, f"{label} is not heard: {audio}"


def turn_on_sound(page: Page) -> None:
    # A browser may refuse to play sound before a click; a person would press the button.
    enable_sound = page.get_by_role("button", name="Turn on sound")
    if enable_sound.is_visible():
        enable_sound.click()


def tile(page: Page, label: str) -> Any:
    return page.locator(f'[data-remote-tile][data-label="{label}"]')


def open_from_timetable(page: Page, server: AsgiServer, link_name: str) -> Page:
    page.goto(f"{server.url}/en/live/timetable/")
    page.get_by_role("link", name=link_name).click()
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", "live")
    return page


def test_a_class_from_start_to_finish_with_both_rooms_an_invited_trainee_and_one_recording(
    live_server: AsgiServer,
    sign_in: SignIn,
    class_about_to_start: Class,
    room_agents: None,
    workers: None,
    tmp_path: Path,
) -> None:
    live_class = class_about_to_start
    course_title = live_class.session.course.title

    # The instructor opens the session from the timetable, five minutes early, and switches recording on.
    instructor = open_from_timetable(sign_in(live_class.instructor), live_server, f"Open to start {course_title}")
    expect(instructor.locator("#session-state")).to_have_attribute("data-session-state", "scheduled")
    instructor.locator("[data-recording-toggle]").click()
    expect(instructor.locator("[data-recording-toggle]")).to_have_attribute("aria-pressed", "true")
    expect(instructor.locator("[data-recording-indicator]")).to_be_visible()

    # Two trainees wait in the lobby; the session is recorded, and they agree to be recorded before joining.
    trainees = {}
    for name, trainee in (("Mei", live_class.trainee), ("Jun", live_class.chongqing_trainee)):
        page = open_from_timetable(sign_in(trainee), live_server, f"Open the lobby {course_title}")
        expect(page.locator("#session-lobby")).to_be_visible()
        expect(page.locator("[data-recording-notice]")).to_be_visible()
        page.locator("[data-recording-consent-agree]").click()
        expect(page.locator("[data-recording-indicator]")).to_be_visible()
        trainees[name] = page
    mei, jun = trainees["Mei"], trainees["Jun"]

    # Start: the lobby lets them in, and both rooms' agents publish by themselves.
    instructor.locator("#session-start").click()
    for page in (instructor, mei, jun):
        expect(page.locator("#session-state")).to_have_attribute("data-session-state", "live")
        expect(page.locator("[data-remote-tile][data-role=room]")).to_have_count(2, timeout=30_000)
        expect(tile(page, SINGAPORE).locator(".media-label")).to_have_text(SINGAPORE)
        expect(tile(page, CHONGQING).locator(".media-label")).to_have_text(CHONGQING)
    for page in (mei, jun):
        turn_on_sound(page)
    for page in (mei, jun):
        assert_seen_and_heard(page, [SINGAPORE, CHONGQING])

    # Jun raises a hand; the instructor invites; Jun, told the session is recorded, accepts.
    jun.get_by_role("button", name="Raise hand").click()
    instructor.get_by_role("button", name="Invite Jun Zhao to speak").click()
    invitation = jun.get_by_role("dialog", name="You are invited to speak")
    expect(invitation).to_be_visible()
    expect(invitation.locator("[data-media-invite-recorded]")).to_be_visible()
    invitation.get_by_role("button", name="Accept").click()
    expect(tile(mei, "Jun Zhao")).to_have_attribute("data-role", "trainee", timeout=20_000)
    assert_seen_and_heard(mei, ["Jun Zhao", SINGAPORE, CHONGQING])

    # The instructor ends the class (confirmed); every page says so.
    instructor.locator("#session-end").click()
    instructor.locator("#session-end-confirm").click()
    for page in (instructor, mei, jun):
        expect(page.locator("#session-state")).to_have_attribute("data-session-state", "ended")
    session = LiveSession.objects.get(pk=live_class.session.pk)
    assert session.live_since is not None and session.live_until is not None
    live_seconds = (session.live_until - session.live_since).total_seconds()

    # A worker composes the recordings into one file; the course page offers it, and Mei downloads it.
    wait_until(
        lambda: SessionComposition.objects.filter(session=session, state=CompositionState.STORED).exists(),
        timeout=COMPOSE_TIMEOUT_S,
        interval=1,
        message=lambda: f"the session's recording to be composed: {list(SessionComposition.objects.values())}",
    )
    mei.goto(f"{live_server.url}{session.course.url}")
    download = mei.locator(f'[data-session="{session.pk}"] a.composed-recording')
    expect(download).to_have_count(1)
    expect(mei.locator("a.composed-recording")).to_have_count(1)  # one file for the session, not one per publisher
    response = mei.request.get(f"{live_server.url}{download.get_attribute('href')}")
    assert response.ok, response.status
    path = tmp_path / "downloaded.mp4"
    path.write_bytes(response.body())
    file = played(path)
    assert (file.codecs["video"], file.codecs["audio"]) == ("h264", "aac")
    duration, size = file.duration_s, file.size
    print(f"composed {duration:.2f} s for {live_seconds:.2f} s live")
    # From the first publisher's start (the agents publish a moment after Start) to the end.
    assert live_seconds - 10 <= duration <= live_seconds + 2, (duration, live_seconds)

    # Both rooms' pictures, each in its own tile: a moment before Jun spoke, two tiles side by side, one in each
    # room's tint (the agents publish in whichever order they connected).
    picture = frame_at(path, seconds=min(4.0, duration / 4))
    tiles = grid_layout(2, width=size[0], height=size[1])
    tints = {tint_of(picture, tile) for tile in tiles}
    assert tints == {SINGAPORE_SIGNATURE[0], CHONGQING_SIGNATURE[0]}, tints
    # Both rooms' tones in the mixed sound.
    spectrum = audio_spectrum(path)
    for _tint, hz in (SINGAPORE_SIGNATURE, CHONGQING_SIGNATURE):
        assert tone_strength(spectrum, hz) > 0.2, (hz, tone_strength(spectrum, hz))


def tint_of(picture: Any, tile: Tile) -> str | None:
    """Which room tint the tile's picture carries (its mean chroma near the agent's), or None."""
    region = picture[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width].reshape(-1, 3)
    _luma, cb, cr = region.mean(axis=0)
    for name, (tint_cb, tint_cr) in TINTS.items():
        if abs(cb - tint_cb) < 20 and abs(cr - tint_cr) < 20:
            return name
    print(f"tile {tile} has chroma {cb:.0f}, {cr:.0f}")
    return None
