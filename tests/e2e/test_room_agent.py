"""A room agent in real life: the agent process (`python -m classrooms.agent`) publishes its synthetic picture and
tone into a live session when the room's operator presses Start on the console; two trainees, each in a browser of
their own, see moving video and hear sound; Stop takes it away again. It also follows the session by itself: it
publishes when the session goes live and stops when it ends, staying connected and healthy in between.

Media goes agent (aiortc, its own process) → Corridor's SFU (in uvicorn) → Chromium, over loopback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from classrooms.models import LiveSession, SessionState
from classrooms.services import devices
from classrooms.services.sessions import session_end, session_start
from tests import factories
from tests.support.agents import RoomAgentProcess
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread, wait_for_js

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


WARM_UP_SECONDS = 2
MEASURE_SECONDS = 3
MIN_FPS = 20  # the bar for moving video; the agent sends 30

# Decoded video frames and received sound over a few seconds, from the page's receiving connection.
MEASURE = """
async (seconds) => {
  const pc = window.corridorMedia.state.sub.pc;
  const read = async () => {
    const found = {};
    (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp") found[s.kind] = s; });
    return found;
  };
  const before = await read();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = await read();
  const elapsed = (performance.now() - started) / 1000;
  return {
    fps: (after.video.framesDecoded - before.video.framesDecoded) / elapsed,
    framesDecoded: after.video.framesDecoded,
    framesPerSecond: after.video.framesPerSecond ?? null,
    audioLevel: after.audio?.audioLevel ?? 0,
    audioEnergy: (after.audio?.totalAudioEnergy ?? 0) - (before.audio?.totalAudioEnergy ?? 0),
    audioPackets: (after.audio?.packetsReceived ?? 0) - (before.audio?.packetsReceived ?? 0),
  };
}
"""


@pytest.fixture
def singapore_agent(live_server: AsgiServer, live_class: Class, tmp_path: Path) -> Iterator[Any]:
    """The Singapore room's operator, and its agent running with a freshly issued token."""
    operator = factories.operator(first_name="Ravi", last_name="Kumar")
    live_class.singapore.operators.add(operator)
    agent = RoomAgentProcess(server=live_server, room=live_class.singapore, log=tmp_path / "agent.log", stream=False)
    try:
        yield operator
    finally:
        agent.stop()
        print(f"--- the agent's output ---\n{agent.output()}")  # pytest shows it when the test fails


def watch_class(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page.goto(f"{server.url}{live_class.path}")
    expect(page.locator("[data-media-connection]")).to_have_attribute("data-state", "live")
    return page


def sees_and_hears_the_room(page: Page) -> dict[str, Any]:
    main_video = "[data-media-main] video[data-remote]"
    expect(page.locator(main_video)).to_have_attribute("data-role", "room", timeout=20_000)
    expect(page.locator("[data-media-main] .media-label")).to_have_text("Marina Bay Lab · Singapore")
    # A browser may refuse to play sound before a click; a person would press the button.
    enable_sound = page.get_by_role("button", name="Turn on sound")
    if enable_sound.is_visible():
        enable_sound.click()
    wait_for_js(page, f"document.querySelector('{main_video}').videoWidth > 0", timeout=20_000)
    page.wait_for_timeout(WARM_UP_SECONDS * 1000)
    seen: dict[str, Any] = page.evaluate(MEASURE, MEASURE_SECONDS)
    print(f"measured: {seen}")
    assert seen["fps"] > MIN_FPS, seen
    assert seen["audioPackets"] > 0 and (seen["audioLevel"] > 0 or seen["audioEnergy"] > 0), seen
    assert page.evaluate(f"document.querySelector('{main_video}').videoWidth") == 640
    return seen


def test_the_operator_starts_the_room_and_two_trainees_see_and_hear_it(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, singapore_agent: Any
) -> None:
    console = sign_in(singapore_agent)
    console.goto(f"{live_server.url}/en/live/rooms/{live_class.singapore.pk}/devices/")
    expect(console.get_by_role("heading", name="Devices: Marina Bay Lab")).to_be_visible()
    agent_state = console.locator(".agent-state .device-status").first
    expect(agent_state).to_have_text("Online", timeout=20_000)

    console.get_by_role("button", name="Start streaming").click()
    expect(console.locator("[data-stream-announce]")).to_contain_text("Start sent to the room agent.")
    expect(console.locator("[data-command-ok]")).to_have_attribute("data-command-ok", "ok", timeout=20_000)
    expect(console.locator("[data-streaming]")).to_contain_text("Yes", timeout=20_000)
    # Its devices report: the camera's frames per second are on the console.
    expect(console.locator("tr[data-device-kind=camera] [data-device-fps]")).to_be_visible(timeout=20_000)

    mei = watch_class(sign_in(live_class.trainee), live_server, live_class)
    jun = watch_class(sign_in(live_class.chongqing_trainee), live_server, live_class)
    sees_and_hears_the_room(mei)
    sees_and_hears_the_room(jun)

    # Stop: the picture goes from both pages.
    console.get_by_role("button", name="Stop streaming").click()
    expect(console.locator("[data-last-command]")).to_have_attribute("data-last-command", "stop", timeout=10_000)
    for page in (mei, jun):
        expect(page.get_by_text("Nobody is on camera yet.")).to_be_visible(timeout=20_000)

    # Trainees have no console.
    response = mei.goto(f"{live_server.url}/en/live/rooms/{live_class.singapore.pk}/devices/")
    assert response is not None and response.status == 403


def test_a_room_agent_that_loses_its_server_comes_back_and_publishes_again(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, singapore_agent: Any
) -> None:
    in_another_thread(lambda: devices.agent_stream_request(room=live_class.singapore, requested=True))
    mei = watch_class(sign_in(live_class.trainee), live_server, live_class)
    expect(mei.locator("[data-media-main] video[data-remote]")).to_have_attribute("data-role", "room", timeout=20_000)

    live_server.stop()
    time.sleep(1)
    live_server.start()
    # The page reconnects by itself; the agent reconnects with backoff and, still asked to stream, publishes again.
    expect(mei.locator("[data-media-connection]")).to_have_attribute("data-state", "live", timeout=45_000)
    expect(mei.locator("[data-media-main] video[data-remote]")).to_have_attribute("data-role", "room", timeout=45_000)
    wait_for_js(mei, "document.querySelector('[data-media-main] video[data-remote]').videoWidth > 0", timeout=20_000)


def test_the_agent_follows_the_session_with_no_operator_command(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, singapore_agent: Any
) -> None:
    # The class is scheduled a few minutes ahead; the room's agent is up and waits for it.
    def schedule_ahead() -> None:
        starts_at = timezone.now() + timedelta(minutes=5)
        LiveSession.objects.filter(pk=live_class.session.pk).update(
            state=SessionState.SCHEDULED, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1)
        )

    in_another_thread(schedule_ahead)
    console = sign_in(singapore_agent)
    console.goto(f"{live_server.url}/en/live/rooms/{live_class.singapore.pk}/devices/")
    agent_state = console.locator(".agent-state .device-status").first
    expect(agent_state).to_have_text("Online", timeout=20_000)
    expect(console.locator("[data-stream-plan-text]")).to_have_text("Waiting for a session")
    expect(console.locator("[data-streaming]")).to_contain_text("No")
    expect(console.locator("tr[data-device-kind=camera] .device-status")).to_have_text("Online", timeout=20_000)

    # The instructor starts the class: the room publishes by itself, and a trainee sees it.
    in_another_thread(lambda: session_start(session=live_class.session, by=live_class.instructor))
    expect(console.locator("[data-streaming]")).to_contain_text("Yes", timeout=20_000)
    expect(console.locator("[data-last-command]")).to_have_count(0)  # no operator pressed anything
    mei = watch_class(sign_in(live_class.trainee), live_server, live_class)
    expect(mei.locator("[data-media-main] video[data-remote]")).to_have_attribute("data-role", "room", timeout=20_000)

    # The class ends: the room stops, and its agent stays connected and healthy, waiting for the next one.
    in_another_thread(lambda: session_end(session=live_class.session, by=live_class.instructor))
    expect(console.locator("[data-streaming]")).to_contain_text("No", timeout=20_000)
    expect(console.locator("[data-stream-plan-text]")).to_have_text("Waiting for a session")
    console.wait_for_timeout(6000)  # a health report later: still online, nothing degraded
    console.reload()
    expect(agent_state).to_have_text("Online")
    expect(console.locator("tr[data-device-kind=camera] .device-status")).to_have_text("Online")
    expect(console.locator("tr[data-device-kind=microphone] .device-status")).to_have_text("Online")
