"""The operator console as an operator uses it, in Chromium: both rooms live with a real room agent each
(`python -m classrooms.agent`, tests/support/agents.py); a camera moved to preset 2 over VISCA over IP (the
simulated camera, tests/support/visca.py, receives the exact bytes and the console shows it acknowledged); a
silent camera shown failed with its reason; a room muted and unmuted, stopped (a trainee's live page loses that
room, says it is paused, keeps the other) and started again. Controls are used from the keyboard, in English and
in Chinese.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from classrooms.models import DeviceKind
from classrooms.services import devices
from tests import factories
from tests.support.agents import RoomAgentProcess
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread, wait_for_js
from tests.support.visca import CameraInThread, simulated_camera

pytestmark = pytest.mark.e2e

RECALL_PRESET_2 = bytes.fromhex("81 01 04 3F 02 01 FF")
RECALL_PRESET_1 = bytes.fromhex("81 01 04 3F 02 00 FF")


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    return asgi_live_server


class Rooms:
    operator: Any
    singapore_camera: CameraInThread
    chongqing_camera: CameraInThread


@pytest.fixture
def two_rooms(live_server: AsgiServer, live_class: Class, tmp_path: Path) -> Iterator[Rooms]:
    """One operator for both rooms; each room's camera registered at its simulated camera (Chongqing's is silent),
    and each room's agent running and streaming the live session."""
    rooms = Rooms()
    with simulated_camera() as singapore_camera, simulated_camera(mode="silent") as chongqing_camera:
        rooms.singapore_camera, rooms.chongqing_camera = singapore_camera, chongqing_camera

        def prepare() -> None:
            rooms.operator = factories.operator(first_name="Ravi", last_name="Kumar")
            for room, camera in ((live_class.singapore, singapore_camera), (live_class.chongqing, chongqing_camera)):
                room.operators.add(rooms.operator)
                devices.device_register(
                    room=room,
                    kind=DeviceKind.CAMERA,
                    name="Synthetic camera",  # the name the synthetic agent reports its camera by
                    model="Simulated VISCA camera",
                    address="127.0.0.1",
                    visca_port=camera.port,
                    presets={"1": "Lectern", "2": "Whiteboard"},
                )

        in_another_thread(prepare)
        agents = [
            RoomAgentProcess(server=live_server, room=room, log=tmp_path / f"agent-{room.pk}.log")
            for room in (live_class.singapore, live_class.chongqing)
        ]
        try:
            yield rooms
        finally:
            for agent in agents:
                agent.stop()
                print(f"--- agent output ---\n{agent.output()}")  # pytest shows it when the test fails


def press(page: Page, button: Any) -> None:
    """As a keyboard user does: move focus to the control, press Enter."""
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")


def room_tile(page: Page, room_id: int) -> Any:
    return page.locator(f"[data-remote-tile][data-room-id='{room_id}']")


def test_an_operator_runs_two_rooms_from_the_console(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, two_rooms: Rooms
) -> None:
    singapore, chongqing = live_class.singapore, live_class.chongqing
    console = sign_in(two_rooms.operator)

    # Both rooms live on the rooms page.
    console.goto(f"{live_server.url}/en/live/rooms/")
    for room in (singapore, chongqing):
        card = console.locator(f"[data-room-card='{room.pk}']")
        expect(card.locator("[data-room-status]")).to_have_text("Online", timeout=30_000)
        expect(card.locator("[data-room-live]")).to_be_visible(timeout=30_000)

    # A trainee sees both rooms.
    mei = sign_in(live_class.trainee)
    mei.goto(f"{live_server.url}{live_class.path}")
    for room in (singapore, chongqing):
        expect(room_tile(mei, room.pk)).to_have_count(1, timeout=30_000)

    # Singapore's camera to preset 2: the camera receives exactly that command; the console says it acknowledged.
    press(console, console.get_by_role("link", name="Marina Bay Lab"))
    expect(console.get_by_role("heading", name="Devices: Marina Bay Lab")).to_be_visible()
    console.wait_for_load_state()
    console.evaluate("window.stillThisPage = true")
    press(console, console.get_by_role("button", name="Preset 2: Whiteboard"))
    result = console.locator("[data-camera] [data-camera-result]")
    expect(result).to_have_attribute("data-state", "ok", timeout=10_000)
    expect(result).to_have_text("Recall preset 2: acknowledged by the camera.")
    [datagram] = two_rooms.singapore_camera.wait_for_datagrams(1)
    assert datagram[:4] == bytes.fromhex("01 00 00 07"), datagram.hex(" ")  # VISCA command, 7 bytes
    assert datagram[8:] == RECALL_PRESET_2, datagram.hex(" ")
    assert two_rooms.singapore_camera.state.preset == 2
    assert console.evaluate("window.stillThisPage === true")  # answered in place, no reload

    # Chongqing's camera does not answer: failed, with the reason, after the 2-second wait.
    console.goto(f"{live_server.url}/en/live/rooms/{chongqing.pk}/devices/")
    press(console, console.get_by_role("button", name="Preset 2: Whiteboard"))
    result = console.locator("[data-camera] [data-camera-result]")
    expect(result).to_have_attribute("data-state", "failed", timeout=10_000)
    expect(result).to_have_attribute("data-outcome", "timeout")
    expect(result).to_contain_text("no acknowledgement from the camera within 2 seconds")
    assert two_rooms.chongqing_camera.wait_for_datagrams(1)[0][8:] == RECALL_PRESET_2

    # Mute Singapore, then unmute: the trainee's tile shows it.
    console.goto(f"{live_server.url}/en/live/rooms/{singapore.pk}/devices/")
    press(console, console.get_by_role("button", name="Mute the room", exact=True))
    expect(console.locator("[data-stream-announce]")).to_have_text("The room's microphone is muted.")
    expect(console.locator("[data-microphone-muted]")).to_have_attribute("data-microphone-muted", "true")
    expect(room_tile(mei, singapore.pk)).to_have_attribute("data-muted", "true", timeout=10_000)
    press(console, console.get_by_role("button", name="Unmute the room"))
    expect(console.locator("[data-microphone-muted]")).to_have_attribute(
        "data-microphone-muted", "false", timeout=10_000
    )
    expect(room_tile(mei, singapore.pk)).to_have_attribute("data-muted", "false", timeout=10_000)

    # Stop Singapore's stream: the trainee's page loses that room and keeps Chongqing; Start brings it back.
    press(console, console.get_by_role("button", name="Stop streaming", exact=True))
    expect(console.locator("[data-command-ok]")).to_have_attribute("data-command-ok", "ok", timeout=20_000)
    expect(console.locator("[data-stream-plan-text]")).to_have_text("Stopped by an operator for this session")
    expect(room_tile(mei, singapore.pk)).to_have_count(0, timeout=20_000)
    expect(room_tile(mei, chongqing.pk)).to_have_count(1)
    paused = mei.locator(f"[data-media-room-paused='{singapore.pk}']")
    expect(paused).to_have_text("Marina Bay Lab · Singapore: paused by an operator")
    mei.reload()  # a page opened meanwhile shows it too
    expect(paused).to_have_text("Marina Bay Lab · Singapore: paused by an operator", timeout=20_000)
    expect(room_tile(mei, chongqing.pk)).to_have_count(1, timeout=30_000)
    press(console, console.get_by_role("button", name="Start streaming", exact=True))
    expect(console.locator("[data-last-command]")).to_have_attribute("data-last-command", "start", timeout=10_000)
    expect(console.locator("[data-command-ok]")).to_have_attribute("data-command-ok", "ok", timeout=20_000)
    expect(room_tile(mei, singapore.pk)).to_have_count(1, timeout=30_000)
    expect(paused).to_have_count(0)
    wait_for_js(
        mei, f"document.querySelector(\"[data-room-id='{singapore.pk}'] video\")?.videoWidth > 0", timeout=20_000
    )

    # In Chinese: the same console, the same controls (found by what they do, not their words).
    console.goto(f"{live_server.url}/zh-hans/live/rooms/{singapore.pk}/devices/")
    expect(console.locator("html")).to_have_attribute("lang", "zh-hans")
    press(console, console.locator("[data-camera] button[data-preset='1']"))
    result = console.locator("[data-camera] [data-camera-result]")
    expect(result).to_have_attribute("data-state", "ok", timeout=10_000)
    assert two_rooms.singapore_camera.wait_for_datagrams(2)[1][8:] == RECALL_PRESET_1

    # The other room's camera, from this room's console: refused, and that camera hears nothing more.
    heard = len(two_rooms.chongqing_camera.received)
    chongqing_camera_id = console.evaluate(
        f"fetch('/en/live/rooms/{chongqing.pk}/devices/').then((r) => r.text())"
        '.then((html) => Number(/data-camera="(\\d+)"/.exec(html)[1]))'
    )
    status = console.evaluate(
        """async ([roomId, cameraId]) => {
          const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
          const body = new URLSearchParams({ action: "recall", preset: "2", csrfmiddlewaretoken: token });
          const url = `/en/live/rooms/${roomId}/cameras/${cameraId}/preset/`;
          return (await fetch(url, { method: "POST", body })).status;
        }""",
        [singapore.pk, chongqing_camera_id],
    )
    assert status == 404
    console.wait_for_timeout(500)
    assert len(two_rooms.chongqing_camera.received) == heard
