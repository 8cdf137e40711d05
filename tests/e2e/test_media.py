"""Video in real browsers: the instructor publishes Chromium's fake camera from the live page, a trainee watches it.

The media goes browser → Corridor's SFU (in the server's process) → browser, over loopback.
"""

import pytest
from playwright.sync_api import expect

from tests.support.browser import COUNT_FRAMES, MEASURE_SECONDS, AsgiServer, Class, SignIn, open_media_page, wait_for_js

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


# The fake camera sends 30 fps; the first seconds of a VP8 stream ramp up, and a loaded test machine drops some.
MIN_FPS = 15


def test_the_instructor_publishes_and_a_trainee_sees_moving_video(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    instructor = open_media_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = open_media_page(sign_in(live_class.trainee), live_server, live_class)
    expect(trainee.get_by_text("Nobody is on camera yet.")).to_be_visible()
    expect(trainee.get_by_role("button", name="Publish my camera")).to_be_hidden()

    instructor.get_by_role("button", name="Publish my camera").click()
    expect(instructor.get_by_role("button", name="Stop publishing")).to_be_visible()
    expect(instructor.get_by_role("button", name="Mute")).to_be_visible()
    expect(instructor.locator("[data-media-self]")).to_be_visible()

    main_video = "[data-media-main] video[data-remote]"
    expect(trainee.locator(main_video)).to_have_attribute("data-role", "instructor", timeout=20_000)
    expect(trainee.get_by_text("Nobody is on camera yet.")).to_be_hidden()
    wait_for_js(trainee, f"document.querySelector('{main_video}').videoWidth > 0", timeout=20_000)
    seen = trainee.evaluate(COUNT_FRAMES, [main_video, MEASURE_SECONDS])
    assert seen["width"] > 0, seen
    assert seen["frames"] / MEASURE_SECONDS >= MIN_FPS, seen

    # The statistics panel reads the receiving connection.
    trainee.get_by_text("Connection statistics").click()
    expect(trainee.locator("[data-media-stats]")).to_contain_text("Frames per second", timeout=5_000)

    # Audio only: the picture goes, the connection stays.
    trainee.get_by_label("Audio only").check()
    expect(trainee.locator(main_video)).to_have_count(0)
    expect(trainee.locator("[data-media-connection]")).to_have_attribute("data-state", "live")
