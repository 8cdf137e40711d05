"""Reads of link-quality samples for the charts: a room's link, the Singapore–Chongqing link, live or per session."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from classrooms.models import LinkSample, LinkScope, LiveSession, Room
from classrooms.selectors.participants import MODERATORS, session_participant

LIVE_WINDOW = timedelta(minutes=15)  # what the live charts show
MAX_POINTS = 400  # per line: a long session's samples are thinned to this many
FIGURES = ("rtt_ms", "loss_pct", "jitter_ms", "bitrate_kbps")

Points = list[tuple[datetime, float]]


@dataclass(frozen=True)
class LinkSeries:
    """Each figure's lines: label → points (one line for a room; one per direction for the nodes' link)."""

    figures: dict[str, dict[str, Points]]

    @property
    def empty(self) -> bool:
        return not any(points for lines in self.figures.values() for points in lines.values())


def _thin(points: Points) -> Points:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[int(k * step)] for k in range(MAX_POINTS - 1)] + [points[-1]]


def _series(samples: Any, *, label_of: Any) -> LinkSeries:
    figures: dict[str, dict[str, Points]] = {name: defaultdict(list) for name in FIGURES}
    for sample in samples.order_by("at"):
        for name in FIGURES:
            value = getattr(sample, name)
            if value is not None:
                figures[name][label_of(sample)].append((sample.at, float(value)))
    return LinkSeries(
        figures={name: {label: _thin(points) for label, points in lines.items()} for name, lines in figures.items()}
    )


def room_link_series(*, room: Room, start: datetime, end: datetime, session: LiveSession | None = None) -> LinkSeries:
    samples = LinkSample.objects.filter(scope=LinkScope.ROOM, room=room, at__gte=start, at__lte=end)
    if session is not None:
        samples = samples.filter(session=session)
    return _series(samples, label_of=lambda sample: room.name)


def cross_link_series(*, start: datetime, end: datetime) -> LinkSeries:
    samples = LinkSample.objects.filter(scope=LinkScope.CROSS, at__gte=start, at__lte=end)
    return _series(samples, label_of=lambda sample: sample.peer)


def cross_link_exists() -> bool:
    """Whether there can be a link between media nodes: only with SFU nodes (the embedded default is one node)."""
    return bool(settings.SFU_MODE == "nodes")


def live_window(*, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now - LIVE_WINDOW, now


def session_window(*, session: LiveSession, now: datetime | None = None) -> tuple[datetime, datetime] | None:
    """When the session was live (until now while it still is); None if it never went live."""
    if session.live_since is None:
        return None
    return session.live_since, session.live_until or now or timezone.now()


def can_read_session_links(*, session: LiveSession, user: Any) -> bool:
    """The session's moderators (instructor, administrators) and its rooms' operators."""
    participant = session_participant(session=session, user=user)
    return participant is not None and (participant in MODERATORS or participant == "operator")
