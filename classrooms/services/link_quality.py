"""Link-quality samples: each room's link to its media node (from its agent's health reports) and the link between
the two cities' media nodes (from the nodes' records, sampled by streaming.tasks.sample_node_links).

Samples are kept LINK_SAMPLES_KEEP_DAYS, with the live session a room's sample served, so a session's link quality
can be charted after it (`selectors.link_quality`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from classrooms.models import LinkSample, LinkScope, LiveSession


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def link_sample_room_record(
    *,
    room_id: int,
    session_id: int | None,
    link: Mapping[str, Any],
    bitrate_kbps: float | None,
    now: datetime | None = None,
) -> LinkSample:
    """One health report's link figures for the room (round trip, loss, jitter from RTCP; the bitrate sent)."""
    # The agent names the session it publishes into; keep it only if it is a session held in this room.
    if session_id is not None and not LiveSession.objects.filter(pk=session_id, rooms=room_id).exists():
        session_id = None
    return LinkSample.objects.create(
        scope=LinkScope.ROOM,
        room_id=room_id,
        session_id=session_id,
        at=now or timezone.now(),
        rtt_ms=_number(link.get("rtt_ms")),
        loss_pct=_number(link.get("loss_pct")),
        jitter_ms=_number(link.get("jitter_ms")),
        bitrate_kbps=_number(bitrate_kbps),
    )


def link_samples_cross_record(*, nodes: Iterable[Mapping[str, Any]], now: datetime | None = None) -> int:
    """The node-to-node links each SFU node reports (its record's `links`: one `LinkStats` per peer node), one
    sample per direction. Links whose figures are older than a minute (a node that stopped measuring) are left out.
    Returns how many samples were written."""
    now = now or timezone.now()
    samples = []
    for node in nodes:
        name = str(node.get("city") or node.get("id") or "?")
        for link in node.get("links") or []:
            if not isinstance(link, Mapping):
                continue
            at = _number(link.get("at"))
            if at is not None and now.timestamp() - at > 60:
                continue
            samples.append(
                LinkSample(
                    scope=LinkScope.CROSS,
                    peer=f"{name}→{link.get('peer', '?')}"[:120],
                    at=now,
                    rtt_ms=_number(link.get("rtt_ms")),
                    loss_pct=_number(link.get("loss_pct")),
                    jitter_ms=_number(link.get("jitter_ms")),
                    bitrate_kbps=_number(link.get("send_kbps")),
                )
            )
    LinkSample.objects.bulk_create(samples)
    return len(samples)


def link_samples_prune(*, now: datetime | None = None) -> int:
    """Delete samples older than LINK_SAMPLES_KEEP_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LINK_SAMPLES_KEEP_DAYS)
    deleted, _ = LinkSample.objects.filter(at__lt=cutoff).delete()
    return deleted
