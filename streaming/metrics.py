"""The SFU's metrics, exposed by the app process (lms/metrics.py serves them): the media path itself
(`streaming.sfu`, `streaming.node`) knows nothing of Prometheus or Django.

- SFU_MODE=local: this process's Sfu, read at each scrape: per session, its media sockets, publishers and
  subscribers, the bitrate received from publishers and sent to subscribers, and the packets subscribers asked
  again (their loss), summed over the session's legs (one series per leg would be one per trainee and track).
- SFU_MODE=nodes: every live node's record in Redis (its heartbeat): sessions, sockets, publishers, subscribers,
  tracks, and per link leg to another node (Singapore ⇄ Chongqing) the bitrate each way, the loss each way, the
  round trip and the packets lost for good. Every app process reports the same node figures: take `max`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streaming.node.registry import NodeRecord, city_of, node_key, parse_record

logger = logging.getLogger(__name__)

NODE_LABELS = ["node", "city"]
LINK_LABELS = ["node", "city", "peer"]


class _Families:
    def __init__(self) -> None:
        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        self.sessions = gauge("corridor_sfu_sessions", "Sessions with media on this SFU.", NODE_LABELS)
        self.sockets = gauge("corridor_sfu_sockets", "Media sockets served by this SFU.", NODE_LABELS)
        self.publishers = gauge("corridor_sfu_publishers", "Publishing peers on this SFU.", NODE_LABELS)
        self.subscribers = gauge("corridor_sfu_subscribers", "Subscribing peers on this SFU.", NODE_LABELS)
        self.tracks = gauge("corridor_sfu_tracks", "Published tracks on this SFU.", NODE_LABELS)
        session_labels = [*NODE_LABELS, "session"]
        self.session_publishers = gauge(
            "corridor_sfu_session_publishers", "Publishing peers of a session (embedded SFU).", session_labels
        )
        self.session_subscribers = gauge(
            "corridor_sfu_session_subscribers", "Subscribing peers of a session (embedded SFU).", session_labels
        )
        self.receive_bps = gauge(
            "corridor_sfu_session_receive_bitrate_bps",
            "Bits per second received from a session's publishers, since the previous scrape (embedded SFU).",
            session_labels,
        )
        self.send_bps = gauge(
            "corridor_sfu_session_send_bitrate_bps",
            "Bits per second sent over a session's subscriber legs, since the previous scrape (embedded SFU).",
            session_labels,
        )
        self.nacked = CounterMetricFamily(
            "corridor_sfu_session_nacked_packets",
            "Packets a session's subscribers asked to be sent again (lost on their legs; embedded SFU).",
            labels=session_labels,
        )
        self.link_kbps = gauge(
            "corridor_sfu_link_kbps",
            "Kilobits per second on a link leg to another SFU node, per direction (send, receive).",
            [*LINK_LABELS, "direction"],
        )
        self.link_loss = gauge(
            "corridor_sfu_link_loss_percent",
            "Packet loss on a link leg, per direction (send: as the peer reports; receive: before repair).",
            [*LINK_LABELS, "direction"],
        )
        self.link_rtt = gauge("corridor_sfu_link_rtt_ms", "Round trip on a link leg to another node.", LINK_LABELS)
        self.link_lost = CounterMetricFamily(
            "corridor_sfu_link_lost_packets",
            "Packets lost for good on a link leg (after retransmission), since the node started.",
            labels=LINK_LABELS,
        )

    def all(self) -> list[Metric]:
        return [
            self.sessions,
            self.sockets,
            self.publishers,
            self.subscribers,
            self.tracks,
            self.session_publishers,
            self.session_subscribers,
            self.receive_bps,
            self.send_bps,
            self.nacked,
            self.link_kbps,
            self.link_loss,
            self.link_rtt,
            self.link_lost,
        ]


def _add_local(families: _Families) -> None:
    from streaming.media_hubs import local_media_hubs

    node = f"local-{os.getpid()}"
    city = settings.CORRIDOR_REGION
    for hub in local_media_hubs():
        try:
            load = hub.load()
            stats = hub.session_stats()
        except RuntimeError:  # the hub's loop changed a collection mid-read: the next scrape reads it
            logger.info("SFU figures skipped for one scrape (changed while read)")
            continue
        families.sessions.add_metric([node, city], load["sessions"])
        families.sockets.add_metric([node, city], load["sockets"])
        families.publishers.add_metric([node, city], load["publishers"])
        families.subscribers.add_metric([node, city], load["subscribers"])
        families.tracks.add_metric([node, city], load["tracks"])
        for session_id, session in sorted(stats.items()):
            labels = [node, city, str(session_id)]
            legs = [leg for leg_list in session["subscribers"].values() for leg in leg_list]
            tracks = [track for track_list in session["publishers"].values() for track in track_list]
            families.session_publishers.add_metric(labels, len(session["publishers"]))
            families.session_subscribers.add_metric(labels, len(session["subscribers"]))
            families.receive_bps.add_metric(labels, sum(t["bitrate_bps"] for t in tracks if not t["relayed"]))
            families.send_bps.add_metric(labels, sum(leg["bitrate_bps"] for leg in legs))
            families.nacked.add_metric(labels, sum(leg["nacked_packets"] for leg in legs))


def _node_records() -> list[NodeRecord]:
    prefix = settings.SFU_REDIS_PREFIX
    with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0) as client:
        keys = list(client.scan_iter(match=node_key(prefix, "*"), count=100))
        raws = client.mget(keys) if keys else []
    return [record for raw in raws if (record := parse_record(raw)) is not None]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _add_nodes(families: _Families) -> None:
    try:
        records = _node_records()
    except redis.RedisError:
        logger.warning("SFU node figures unavailable: Redis did not answer", exc_info=True)
        return
    for record in sorted(records, key=lambda r: r["id"]):
        node, city = record["id"], city_of(record)
        families.sessions.add_metric([node, city], record.get("sessions", 0))
        families.sockets.add_metric([node, city], record.get("sockets", 0))
        families.publishers.add_metric([node, city], record.get("publishers", 0))
        families.subscribers.add_metric([node, city], record.get("subscribers", 0))
        families.tracks.add_metric([node, city], record.get("tracks", 0))
        for link in record.get("links", []):
            labels = [node, city, str(link.get("peer", ""))]
            for direction, kbps, loss in (
                ("send", link.get("send_kbps"), link.get("loss_pct")),
                ("receive", link.get("receive_kbps"), link.get("receive_loss_pct")),
            ):
                if (value := _number(kbps)) is not None:
                    families.link_kbps.add_metric([*labels, direction], value)
                if (value := _number(loss)) is not None:
                    families.link_loss.add_metric([*labels, direction], value)
            if (rtt := _number(link.get("rtt_ms"))) is not None:
                families.link_rtt.add_metric(labels, rtt)
            if (lost := _number(link.get("lost"))) is not None:
                families.link_lost.add_metric(labels, lost)


class SfuCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        families = _Families()
        if settings.SFU_MODE == "nodes" and settings.REDIS_URL:
            _add_nodes(families)
        else:
            _add_local(families)
        yield from families.all()
