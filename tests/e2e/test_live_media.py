"""The live page's media in real browsers: both rooms' agents at once (every room's picture and sound reach every
page, a tile pinned large, a room muted and unmuted), and a trainee invited to speak (accept: everyone sees and
hears them under their name, until the instructor stops them; decline: the instructor is told).

Media goes agents (aiortc, processes of their own) and Chromium → Corridor's SFU (in uvicorn) → Chromium. What a page
receives is read from its receiving connection's getStats, per track (`window.corridorMedia.trackStats()`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.support.agents import RoomAgentProcess
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread, open_media_page

pytestmark = pytest.mark.e2e

SINGAPORE = "Marina Bay Lab · Singapore"
CHONGQING = "Jiefangbei Studio · Chongqing"
WARM_UP_MS = 2_000
MEASURE_SECONDS = 3

# Per remote track, what this page received and decoded over a few seconds.
MEASURE_TRACKS = """
async (seconds) => {
  const before = await window.corridorMedia.trackStats();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = await window.corridorMedia.trackStats();
  const out = [];
  for (const [trackId, now] of Object.entries(after)) {
    const then = before[trackId] || {};
    out.push({
      track_id: trackId, kind: now.kind, label: now.label,
      frames: now.framesDecoded - (then.framesDecoded || 0),
      samples: now.totalSamplesReceived - (then.totalSamplesReceived || 0),
      energy: now.totalAudioEnergy - (then.totalAudioEnergy || 0),
      audioLevel: now.audioLevel,
    });
  }
  return out;
}
"""


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


@pytest.fixture
def both_rooms(live_server: AsgiServer, live_class: Class, tmp_path: Path) -> Iterator[None]:
    """Both rooms' agents, asked to stream: they publish into the class as soon as they connect."""
    agents = [
        RoomAgentProcess(server=live_server, room=room, log=tmp_path / f"agent-{room.pk}.log")
        for room in (live_class.singapore, live_class.chongqing)
    ]
    try:
        yield
    finally:
        for agent in agents:
            agent.stop()
            print(f"--- an agent's output ---\n{agent.output()}")  # pytest shows it when the test fails


def turn_on_sound(page: Page) -> None:
    # A browser may refuse to play sound before a click; a person would press the button.
    enable_sound = page.get_by_role("button", name="Turn on sound")
    if enable_sound.is_visible():
        enable_sound.click()


def measure(page: Page) -> dict[tuple[str, str], dict[str, Any]]:
    """(label, kind) → what arrived over MEASURE_SECONDS."""
    seen = page.evaluate(MEASURE_TRACKS, MEASURE_SECONDS)
    print(f"measured: {seen}")
    return {(track["label"], track["kind"]): track for track in seen}


def tile(page: Page, label: str) -> Any:
    return page.locator(f'[data-remote-tile][data-label="{label}"]')


def test_every_rooms_picture_and_sound_reach_the_page_a_tile_is_pinned_and_a_room_muted(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, both_rooms: None
) -> None:
    mei = open_media_page(sign_in(live_class.trainee), live_server, live_class)
    instructor = open_media_page(sign_in(live_class.instructor), live_server, live_class)
    for page in (mei, instructor):
        expect(page.locator("[data-remote-tile][data-role=room]")).to_have_count(2, timeout=30_000)
        expect(tile(page, SINGAPORE).locator(".media-label")).to_have_text(SINGAPORE)
        expect(tile(page, CHONGQING).locator(".media-label")).to_have_text(CHONGQING)
    turn_on_sound(mei)
    mei.wait_for_timeout(WARM_UP_MS)

    # Both rooms' pictures move and both rooms' tones arrive, each on its own track.
    seen = measure(mei)
    for label in (SINGAPORE, CHONGQING):
        assert seen[(label, "video")]["frames"] > 20 * MEASURE_SECONDS / 2, seen
        assert seen[(label, "audio")]["samples"] > 0, seen
        assert seen[(label, "audio")]["energy"] > 0, seen

    # Pin the Chongqing room large, from the keyboard; pressing again lets the main picture choose again.
    pin = tile(mei, CHONGQING).locator("[data-media-pin]")
    pin.focus()
    mei.keyboard.press("Enter")
    expect(mei.locator(f'[data-media-main] [data-remote-tile][data-label="{CHONGQING}"]')).to_be_visible()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(pin).to_be_focused()
    mei.keyboard.press("Enter")
    expect(pin).to_have_attribute("aria-pressed", "false")

    # The instructor mutes the Singapore room: every page shows it, and its sound goes silent (the Chongqing
    # room's does not); unmuted, it comes back.
    assert mei.locator("[data-media-room-mute]").count() == 0  # trainees cannot
    instructor.get_by_role("button", name=f"Mute the microphone of {SINGAPORE}").click()
    for page in (mei, instructor):
        expect(tile(page, SINGAPORE)).to_have_attribute("data-muted", "true")
        expect(tile(page, SINGAPORE).locator("[data-media-muted-badge]")).to_be_visible()
        expect(tile(page, CHONGQING)).to_have_attribute("data-muted", "false")
    mei.wait_for_timeout(1_500)  # what was already on its way plays out
    muted = measure(mei)
    assert muted[(SINGAPORE, "audio")]["samples"] > 0, muted  # frames still flow: silence, not a gap
    assert muted[(SINGAPORE, "audio")]["energy"] < seen[(SINGAPORE, "audio")]["energy"] / 100, muted
    assert muted[(CHONGQING, "audio")]["energy"] > seen[(CHONGQING, "audio")]["energy"] / 10, muted

    instructor.get_by_role("button", name=f"Unmute the microphone of {SINGAPORE}").click()
    expect(tile(mei, SINGAPORE)).to_have_attribute("data-muted", "false")
    expect(tile(mei, SINGAPORE).locator("[data-media-muted-badge]")).to_be_hidden()
    mei.wait_for_timeout(1_500)
    again = measure(mei)
    assert again[(SINGAPORE, "audio")]["energy"] > seen[(SINGAPORE, "audio")]["energy"] / 10, again

    # The room's operator does the same from the room's console.
    operator = factories.operator(first_name="Ravi", last_name="Kumar")
    in_another_thread(lambda: live_class.singapore.operators.add(operator))
    console = sign_in(operator)
    console.goto(f"{live_server.url}/en/live/rooms/{live_class.singapore.pk}/devices/")
    console.get_by_role("button", name="Mute the room", exact=True).click()
    expect(console.locator("[data-stream-announce]")).to_have_text("The room's microphone is muted.")
    expect(tile(mei, SINGAPORE)).to_have_attribute("data-muted", "true")
    expect(console.locator("[data-microphone-muted]")).to_have_attribute("data-microphone-muted", "true")
    console.get_by_role("button", name="Unmute the room", exact=True).click()
    expect(tile(mei, SINGAPORE)).to_have_attribute("data-muted", "false")


def open_class(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page = open_media_page(page, server, live_class)
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", "live")
    return page


def test_an_invited_trainee_is_seen_and_heard_by_everyone_until_stopped_and_a_decline_is_told(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    instructor = open_class(sign_in(live_class.instructor), live_server, live_class)
    mei = open_class(sign_in(live_class.trainee), live_server, live_class)
    jun = open_class(sign_in(live_class.chongqing_trainee), live_server, live_class)

    # Mei raises her hand; the instructor invites her from the raised hands, and her hand goes down.
    mei.get_by_role("button", name="Raise hand").click()
    invite = instructor.get_by_role("button", name="Invite Mei Tan to speak")
    expect(invite).to_be_visible()
    invite.click()
    expect(instructor.locator("[data-hands-queue] li")).to_have_count(0)
    expect(instructor.locator("[data-media-notice]")).to_have_text("Invitation sent to Mei Tan.")
    expect(mei.get_by_role("button", name="Raise hand")).to_be_visible()

    # She is asked, in a dialog (not recorded: no word of recording), and accepts.
    dialog = mei.get_by_role("dialog", name="You are invited to speak")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-media-invite-recorded]")).to_be_hidden()
    expect(dialog.get_by_role("button", name="Accept")).to_be_focused()
    dialog.get_by_role("button", name="Accept").click()
    expect(dialog).to_be_hidden()
    expect(mei.get_by_role("button", name="Stop publishing")).to_be_visible()

    # Everyone sees and hears her, labelled with her name.
    for page in (jun, instructor):
        expect(tile(page, "Mei Tan")).to_have_attribute("data-role", "trainee", timeout=20_000)
        expect(tile(page, "Mei Tan").locator(".media-label")).to_have_text("Mei Tan")
    turn_on_sound(jun)
    jun.wait_for_timeout(WARM_UP_MS)
    seen = measure(jun)
    assert seen[("Mei Tan", "video")]["frames"] > 0, seen
    assert seen[("Mei Tan", "audio")]["samples"] > 0 and seen[("Mei Tan", "audio")]["energy"] > 0, seen
    assert jun.locator("[data-media-stop-speaker]").count() == 0  # only moderators stop a speaker

    # Stop: her tile goes away for everyone, and she is told.
    instructor.get_by_role("button", name="Stop Mei Tan speaking").click()
    for page in (jun, instructor):
        expect(tile(page, "Mei Tan")).to_have_count(0, timeout=10_000)
    expect(mei.get_by_text("The instructor stopped your camera.")).to_be_visible()

    # Jun is invited while the session is being recorded (the page's indicator says so): the dialog tells him;
    # he declines (Escape), and the instructor is told.
    jun.evaluate("document.getElementById('live-session').dataset.recording = 'on'")
    jun.get_by_role("button", name="Raise hand").click()
    instructor.get_by_role("button", name="Invite Jun Zhao to speak").click()
    dialog = jun.get_by_role("dialog", name="You are invited to speak")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-media-invite-recorded]")).to_have_text(
        "This session is being recorded: you will be recorded while you speak."
    )
    jun.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(instructor.locator("[data-media-notice]")).to_have_text("Jun Zhao declined to speak.")
    expect(jun.get_by_role("button", name="Publish my camera")).to_be_hidden()
