"""/metrics exposes the SFU's figures from the app process: the embedded Sfu's (SFU_MODE=local) and the SFU nodes'
records in Redis (SFU_MODE=nodes), link legs included."""

import json
import os
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from streaming.signaling import MediaHub


def scrape(client: Client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name + repr(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


class HubWithMedia:
    """What the collector reads of a MediaHub, for one session with a publisher (two tracks) and two subscribers."""

    def load(self) -> dict[str, int]:
        return {"sessions": 1, "sockets": 3, "peers": 3, "publishers": 1, "subscribers": 2, "tracks": 2}

    def session_stats(self) -> dict[int, Any]:
        def track(track_id: str, bps: float, relayed: bool = False) -> dict[str, Any]:
            return {"track_id": track_id, "bitrate_bps": bps, "relayed": relayed}

        def leg(track_id: str, bps: float, nacked: int) -> dict[str, Any]:
            return {"track_id": track_id, "bitrate_bps": bps, "nacked_packets": nacked}

        return {
            7: {
                "publishers": {"room-a": [track("v", 900_000.0), track("a", 40_000.0)]},
                "subscribers": {
                    "s1": [leg("v", 880_000.0, 3), leg("a", 40_000.0, 0)],
                    "s2": [leg("v", 700_000.0, 12)],
                },
            }
        }


def test_an_idle_media_hub_has_no_session_figures() -> None:
    assert MediaHub().session_stats() == {}


def test_the_embedded_sfu_per_session(client: Client, db: Any, settings: Any, monkeypatch: Any) -> None:
    settings.DEBUG = True
    settings.SFU_MODE = "local"
    monkeypatch.setattr("streaming.media_hubs.local_media_hubs", lambda: [HubWithMedia()])
    samples = scrape(client)
    node = [("city", settings.CORRIDOR_REGION), ("node", f"local-{os.getpid()}")]
    session = sorted([*node, ("session", "7")])
    assert samples["corridor_sfu_publishers" + repr(node)] == 1
    assert samples["corridor_sfu_subscribers" + repr(node)] == 2
    assert samples["corridor_sfu_sockets" + repr(node)] == 3
    assert samples["corridor_sfu_session_receive_bitrate_bps" + repr(session)] == 940_000
    assert samples["corridor_sfu_session_send_bitrate_bps" + repr(session)] == 1_620_000
    assert samples["corridor_sfu_session_nacked_packets_total" + repr(session)] == 15
    assert samples["corridor_sfu_session_subscribers" + repr(session)] == 2


def test_sfu_nodes_and_their_link_legs_from_redis(client: Client, db: Any, settings: Any, redis_url: str) -> None:
    import redis

    settings.DEBUG = True
    settings.SFU_MODE = "nodes"
    settings.REDIS_URL = redis_url
    settings.SFU_REDIS_PREFIX = prefix = f"corridor-metrics-test-{os.getpid()}:sfu"
    record = {
        "id": "sg-1",
        "address": "10.0.0.5",
        "channel": "sfu-node.sg-1",
        "sessions": 2,
        "sockets": 40,
        "peers": 41,
        "publishers": 3,
        "subscribers": 38,
        "tracks": 6,
        "updated": 0.0,
        "city": "singapore",
        "links": [
            {
                "peer": "10.1.0.5:7000",
                "rtt_ms": 61.5,
                "loss_pct": 0.5,
                "jitter_ms": 2.0,
                "receive_loss_pct": 1.5,
                "receive_jitter_ms": 3.0,
                "send_kbps": 2400.0,
                "receive_kbps": 1200.0,
                "lost": 4,
            }
        ],
    }
    with redis.Redis.from_url(redis_url) as store:
        store.set(f"{prefix}:node:sg-1", json.dumps(record), ex=30)
        store.set(f"{prefix}:node:broken", "not json", ex=30)
        try:
            samples = scrape(client)
        finally:
            store.delete(f"{prefix}:node:sg-1", f"{prefix}:node:broken")
    node = [("city", "singapore"), ("node", "sg-1")]
    link = sorted([*node, ("peer", "10.1.0.5:7000")])
    assert samples["corridor_sfu_publishers" + repr(node)] == 3
    assert samples["corridor_sfu_subscribers" + repr(node)] == 38
    assert samples["corridor_sfu_sessions" + repr(node)] == 2
    assert samples["corridor_sfu_link_kbps" + repr(sorted([*link, ("direction", "send")]))] == 2400
    assert samples["corridor_sfu_link_kbps" + repr(sorted([*link, ("direction", "receive")]))] == 1200
    assert samples["corridor_sfu_link_loss_percent" + repr(sorted([*link, ("direction", "receive")]))] == 1.5
    assert samples["corridor_sfu_link_rtt_ms" + repr(link)] == 61.5
    assert samples["corridor_sfu_link_lost_packets_total" + repr(link)] == 4
    assert not any("broken" in key for key in samples)


@pytest.mark.parametrize("mode", ["local", "nodes"])
def test_sfu_families_are_listed_even_when_idle(client: Client, db: Any, settings: Any, mode: str) -> None:
    settings.DEBUG = True
    settings.SFU_MODE = mode
    settings.REDIS_URL = settings.REDIS_URL if mode == "nodes" else ""
    text = client.get("/metrics").content.decode()
    for name in ("corridor_sfu_publishers", "corridor_sfu_subscribers", "corridor_sfu_link_loss_percent"):
        assert f"# TYPE {name} gauge" in text
