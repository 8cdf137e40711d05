"""Two cities in Chromium: a Singapore trainee and a Chongqing trainee in one session with SFU_MODE=nodes, one SFU node
per city (`python -m streaming.node` processes), the nodes' link through two impairment relays (40 ms each way,
10 ms jitter, 2 % loss: `python -m tests.support.impairment`), both rooms' agents publishing. Each trainee's page is
served by their own city's node, and each sees both rooms moving.

Media goes agent → its city's node → (the link, once per track) → the other city's node → Chromium.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Page, expect

from streaming.node import registry
from tests.support.agents import RoomAgentProcess
from tests.support.browser import AsgiServer, Class, SignIn, wait_for_js
from tests.support.nodes import ROOT, Node, free_udp_port, start_node
from tests.support.processes import stop_processes
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.serial]

SG, CQ = "singapore", "chongqing"
MIN_FPS = 15  # both rooms at once through two nodes on a loaded machine; the agents send 30

# Per remote video on the page: its room's city and the frames decoded over a few seconds.
ROOMS_MOVING = """
async (seconds) => {
  const pc = window.corridorMedia.state.sub.pc;
  const read = async () => {
    const found = {};
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") found[s.mid] = s.framesDecoded || 0;
    });
    return found;
  };
  const before = await read();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = await read();
  const elapsed = (performance.now() - started) / 1000;
  return Object.keys(after).map((mid) => (after[mid] - (before[mid] || 0)) / elapsed);
}
"""


@dataclass
class TwoCities:
    server: AsgiServer
    redis: redis.Redis
    prefix: str
    nodes: dict[str, Node]

    def pinned(self, session_id: int, city: str) -> str | None:
        raw = self.redis.get(registry.pin_key(self.prefix, session_id, city))
        return raw.decode() if isinstance(raw, bytes) else raw

    def record(self, city: str) -> dict[str, Any]:
        found = registry.parse_record(self.redis.get(registry.node_key(self.prefix, self.nodes[city].node_id)))
        assert found is not None
        return dict(found)


@pytest.fixture
def two_cities(e2e_db: None, redis_url: str, tmp_path: Path) -> Iterator[TwoCities]:
    """Relays, two city nodes and the ASGI server in SFU_MODE=nodes, all under a channel prefix of this run's own."""
    run = uuid.uuid4().hex[:10]
    layer_prefix = f"corridor-e2e-{run}"
    prefix = f"{layer_prefix}:sfu"
    processes: list[subprocess.Popen[bytes]] = []
    nodes: dict[str, Node] = {}
    client = redis.Redis.from_url(redis_url)
    server = AsgiServer(tmp_path / "server.log")
    try:
        for city in (SG, CQ):
            link_port, relay_port = free_udp_port(), free_udp_port()
            relay = [sys.executable, "-m", "tests.support.impairment", f"--listen=127.0.0.1:{relay_port}"]
            relay += [f"--target=127.0.0.1:{link_port}", "--delay-ms=40", "--jitter-ms=10", "--loss-pct=2"]
            processes.append(subprocess.Popen(relay, cwd=ROOT))
            nodes[city] = start_node(
                node_id=f"node-{city}-{run}",
                prefix=prefix,
                layer_prefix=layer_prefix,
                redis_url=redis_url,
                log=tmp_path / f"node-{city}.log",
                env={
                    "SFU_NODE_ADDRESS": "127.0.0.1",
                    "SFU_NODE_PROBE_BIND": "127.0.0.1:0",
                    "SFU_NODE_CITY": city,
                    "SFU_LINK_BIND": f"127.0.0.1:{link_port}",
                    "SFU_LINK_ADVERTISE": f"127.0.0.1:{relay_port}",
                },
            )
        wait_until(
            lambda: all(client.get(registry.node_key(prefix, node.node_id)) for node in nodes.values()),
            timeout=30,
            message="the SFU nodes to register",
        )
        server.env |= {
            "SFU_MODE": "nodes",
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": layer_prefix,
            "SFU_REDIS_PREFIX": prefix,
        }
        server.start()
        yield TwoCities(server=server, redis=client, prefix=prefix, nodes=nodes)
    finally:
        server.stop()
        print(f"--- the server's output ---\n{server.output()}")
        server.log.close()
        stop_processes(*(node.process for node in nodes.values()), *processes)
        for node in nodes.values():
            print(f"--- node {node.node_id} ---\n{node.log.read_text(errors='replace')[-4000:]}")
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


@pytest.fixture
def live_server(two_cities: TwoCities) -> AsgiServer:
    return two_cities.server


@pytest.fixture
def agents(two_cities: TwoCities, live_class: Class, tmp_path: Path) -> Iterator[None]:
    """Both rooms' agents, asked to stream."""
    running = [
        RoomAgentProcess(server=two_cities.server, room=room, log=tmp_path / f"agent-{room.city}.log")
        for room in (live_class.singapore, live_class.chongqing)
    ]
    try:
        yield
    finally:
        for agent in running:
            agent.stop()
            print(f"--- agent ---\n{agent.output()}")


def sees_both_rooms_moving(page: Page) -> list[float]:
    videos = page.locator("video[data-remote][data-role=room]")
    expect(videos).to_have_count(2, timeout=30_000)
    wait_for_js(
        page,
        "[...document.querySelectorAll('video[data-remote][data-role=room]')].every((v) => v.videoWidth > 0)",
        timeout=30_000,
    )
    page.wait_for_timeout(2000)
    fps: list[float] = page.evaluate(ROOMS_MOVING, 3)
    print(f"measured: {fps}")
    assert len(fps) == 2 and min(fps) > MIN_FPS, fps
    return fps


def test_a_trainee_in_each_city_sees_both_rooms_through_their_own_city_s_node(
    two_cities: TwoCities, sign_in: SignIn, live_class: Class, agents: None
) -> None:
    session_id = live_class.session.pk
    mei = sign_in(live_class.trainee)  # Singapore
    mei.goto(f"{two_cities.server.url}{live_class.path}")
    jun = sign_in(live_class.chongqing_trainee)
    jun.goto(f"{two_cities.server.url}{live_class.path}")
    for page, city in ((mei, SG), (jun, CQ)):
        expect(page.locator("[data-media-connection]")).to_have_attribute("data-state", "live", timeout=20_000)
        # The page knows which city's media server serves it.
        expect(page.locator("[data-media-panel]")).to_have_attribute("data-media-city", city)

    sees_both_rooms_moving(mei)
    sees_both_rooms_moving(jun)

    # Each city's sockets on its own node: each node serves one trainee's subscription, publishes its own room,
    # and sends the other node that room once.
    assert two_cities.pinned(session_id, SG) == two_cities.nodes[SG].node_id
    assert two_cities.pinned(session_id, CQ) == two_cities.nodes[CQ].node_id
    for city in (SG, CQ):
        record = two_cities.record(city)
        assert record["subscribers"] == 1, record
        assert sum(link["streams_out"] for link in record["links"]) == 2, record  # the room's video and audio


def test_a_trainee_who_chooses_the_nearest_media_server_is_served_by_the_one_their_browser_timed_fastest(
    two_cities: TwoCities, sign_in: SignIn, live_class: Class
) -> None:
    jun = sign_in(live_class.chongqing_trainee)
    jun.get_by_role("link", name="Settings").click()
    jun.get_by_label("Automatic: the nearest, measured by my browser").check()
    jun.get_by_role("button", name="Save").click()
    expect(jun.get_by_text("Your settings are saved.")).to_be_visible()

    jun.goto(f"{two_cities.server.url}{live_class.path}")
    expect(jun.locator("[data-media-connection]")).to_have_attribute("data-state", "live", timeout=20_000)
    wait_for_js(
        jun,
        "window.corridorMedia.state.probeTimes && Object.keys(window.corridorMedia.state.probeTimes).length === 2",
        timeout=20_000,
    )
    times: dict[str, float] = jun.evaluate("window.corridorMedia.state.probeTimes")
    print(f"probe round trips (ms): {times}")
    assert all(0 < time < 5000 for time in times.values()), times
    nearest = min(times, key=lambda city: times[city])
    # On the nearer city's node (reconnected there if the home region's was slower), and live.
    panel = jun.locator("[data-media-panel]")
    expect(panel).to_have_attribute("data-media-city", nearest, timeout=20_000)
    expect(jun.locator("[data-media-connection]")).to_have_attribute("data-state", "live", timeout=20_000)
    assert two_cities.pinned(live_class.session.pk, nearest) == two_cities.nodes[nearest].node_id
