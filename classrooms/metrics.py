"""Live sessions' metrics (lms/metrics.py serves them): this process's sockets and participants per live session,
joins, and how long an event takes from its sender to the last of this process's sockets.

Gauges are read from the process's live hubs at each scrape (nothing to keep in step); the join counter and the
fan-out histogram are updated by the hub (classrooms/fanout.py), which imports no Django.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LIVE_JOINS = Counter("corridor_live_joins", "Live-session sockets that joined (this process).")
FANOUT_SECONDS = Histogram(
    "corridor_live_fanout_seconds",
    "From an event's send (after its commit) to its delivery to the last of this process's sockets of the session.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class LiveSessionsCollector(Collector):
    """corridor_live_sockets and corridor_live_participants, per live session with sockets in this process."""

    def collect(self) -> Iterator[Metric]:
        from classrooms.live_hubs import live_hubs

        sockets = GaugeMetricFamily(
            "corridor_live_sockets", "Open live-session sockets in this process, per session.", labels=["session"]
        )
        participants = GaugeMetricFamily(
            "corridor_live_participants",
            "Distinct people with a live-session socket in this process, per session.",
            labels=["session"],
        )
        per_session: dict[int, tuple[int, set[int]]] = {}
        for live_hub in live_hubs():
            for session_id, members in live_hub.members().items():
                count, users = per_session.get(session_id, (0, set()))
                per_session[session_id] = (count + len(members), users | set(members))
        for session_id, (count, users) in sorted(per_session.items()):
            sockets.add_metric([str(session_id)], count)
            participants.add_metric([str(session_id)], len(users))
        yield sockets
        yield participants
