"""A trainee whose browser may reach the SFU only through TURN still sees the class (a real coturn, relay only).

The server hands out TURN REST credentials for the test's coturn (tests/support/coturn.py); the instructor publishes
Chromium's fake camera with ordinary ICE, and the trainee's page, opened with `?relay=1`, sets
`iceTransportPolicy: "relay"`: its only candidates are coturn's relayed addresses, so every packet between it and
the SFU (aiortc, which offers its host candidates) passes through coturn.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import COUNT_FRAMES, MEASURE_SECONDS, AsgiServer, Class, SignIn, open_media_page, wait_for_js
from tests.support.coturn import CoturnServer

pytestmark = pytest.mark.e2e

MOVING_FPS = 5  # a picture that moves, not a still

# What the receiving connection says about itself: the ICE candidate pair in use and the frames decoded so far.
RECEIVING = """
async () => {
  const peer = window.corridorMedia.state.sub;
  if (!peer) return null;
  const report = await peer.pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null;
  let framesDecoded = 0;
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
    if (s.type === "inbound-rtp" && s.kind === "video") framesDecoded += s.framesDecoded || 0;
  });
  const local = pair ? byId.get(pair.localCandidateId) : null;
  const remote = pair ? byId.get(pair.remoteCandidateId) : null;
  return {
    policy: peer.pc.getConfiguration().iceTransportPolicy,
    pairState: pair ? pair.state : null,
    local: local ? { type: local.candidateType, address: local.address, relayProtocol: local.relayProtocol } : null,
    remote: remote ? { type: remote.candidateType } : null,
    framesDecoded,
  };
}
"""


@pytest.fixture
def live_server(e2e_db: None, tmp_path: Path, coturn: CoturnServer) -> Iterator[AsgiServer]:
    """The ASGI server (as `asgi_live_server`), handing out credentials for the test's coturn."""
    server = AsgiServer(tmp_path / "server.log")
    server.env.update({"TURN_URLS": ",".join(coturn.urls), "TURN_SECRET": coturn.secret, "TURN_TTL_SECONDS": "600"})
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print(f"--- the server's output ---\n{server.output()}")
        server.log.close()


def receiving(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = page.evaluate(RECEIVING)
    return stats


def test_a_relay_only_trainee_sees_the_instructor_through_turn(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, coturn: CoturnServer
) -> None:
    instructor = open_media_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = sign_in(live_class.trainee)
    trainee.goto(f"{live_server.url}{live_class.path}?relay=1")
    expect(trainee.locator("[data-media-connection]")).to_have_attribute("data-state", "live")

    # The page holds short-lived TURN credentials for this trainee, never the secret.
    servers = trainee.evaluate("window.corridorMedia.state.iceServers")
    [turn] = [server for server in servers if any(url.startswith("turn:") for url in server["urls"])]
    assert turn["urls"] == coturn.urls
    expires, user_key = turn["username"].split(":")
    assert user_key == str(live_class.trainee.pk)
    assert 0 < int(expires) - time.time() <= 600
    assert coturn.secret not in str(servers)

    instructor.get_by_role("button", name="Publish my camera").click()
    expect(instructor.get_by_role("button", name="Stop publishing")).to_be_visible()

    main_video = "[data-media-main] video[data-remote]"
    expect(trainee.locator(main_video)).to_have_attribute("data-role", "instructor", timeout=20_000)
    wait_for_js(trainee, f"document.querySelector('{main_video}').videoWidth > 0", timeout=30_000)

    # Moving video ... (the path is under test here, not the frame rate, which test_media.py measures: coturn's
    # extra hop costs this busy 2-core machine a few frames a second)
    seen = trainee.evaluate(COUNT_FRAMES, [main_video, MEASURE_SECONDS])
    assert seen["width"] > 0, seen
    assert seen["frames"] / MEASURE_SECONDS >= MOVING_FPS, seen

    # ... over a relayed candidate pair: the trainee's end is coturn's relayed address.
    first = receiving(trainee)
    assert first["policy"] == "relay", first
    assert first["pairState"] == "succeeded", first
    assert first["local"]["type"] == "relay", first
    assert first["local"]["relayProtocol"] == "udp", first
    assert first["remote"]["type"] == "host", first  # the SFU's own address, reached by coturn
    trainee.wait_for_timeout(1000)
    later = receiving(trainee)
    assert later["local"]["type"] == "relay", later
    assert later["framesDecoded"] > first["framesDecoded"], (first, later)
