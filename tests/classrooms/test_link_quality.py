"""Link quality: each room's link (round trip, loss, jitter, bitrate from its agent's reports) and the
Singapore–Chongqing link (from the SFU nodes' records) as charts of the last 15 minutes, updating live, and kept per
session for after it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from redis.asyncio import Redis

from classrooms.models import LinkSample, LinkScope, SessionState
from classrooms.services import devices
from classrooms.services.alerts import agent_report_observe
from classrooms.services.link_quality import link_samples_cross_record, link_samples_prune
from streaming.node.registry import node_register
from streaming.tasks import sample_node_links
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.classrooms.factories import enrol as factories_enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def room_live(db: Any) -> Any:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    room = RoomFactory.create(name="Marina Bay Studio", city="singapore")
    operator = factories.operator()
    room.operators.add(operator)
    session = LiveSessionFactory.create(
        course=course, instructor=factories.instructor(), rooms=[room], live_since=timezone.now() - timedelta(minutes=5)
    )
    agent = devices.room_agent_ensure(room=room)
    return room, operator, session, agent


def report(session_id: int, *, rtt: float, loss: float, jitter: float) -> Any:
    return {
        "publishing": True,
        "session_id": session_id,
        "cpu_pct": None,
        "temperature_c": None,
        "link": {"rtt_ms": rtt, "loss_pct": loss, "jitter_ms": jitter},
        "devices": [
            {
                "kind": "camera",
                "name": "Cam",
                "ok": True,
                "error": "",
                "fps": 30.0,
                "bitrate_kbps": 700.0,
                "frames_sent": 1,
                "level_db": None,
            },
            {
                "kind": "microphone",
                "name": "Mic",
                "ok": True,
                "error": "",
                "fps": None,
                "bitrate_kbps": 40.0,
                "frames_sent": None,
                "level_db": -20.0,
            },
        ],
    }


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def chart_points(page: str) -> list[int]:
    return [int(part.split('"')[0]) for part in page.split('data-line-chart data-points="')[1:]]


def test_a_rooms_reports_become_its_link_charts(room_live: Any) -> None:
    room, operator, session, _agent = room_live
    now = timezone.now()
    for k, (rtt, loss, jitter) in enumerate([(40, 0.0, 2.0), (45, 1.0, 3.5), (70, 0.5, 6.0)]):
        agent_report_observe(
            room_id=room.pk,
            report=report(session.pk, rtt=rtt, loss=loss, jitter=jitter),
            now=now - timedelta(seconds=10 - 5 * k),
        )
    sample = LinkSample.objects.filter(scope=LinkScope.ROOM).last()
    assert sample is not None
    assert (sample.rtt_ms, sample.loss_pct, sample.jitter_ms, sample.bitrate_kbps) == (70, 0.5, 6.0, 740.0)
    assert sample.session == session

    page = signed_in(operator).get(f"/en/live/rooms/{room.pk}/links/").content.decode()
    assert chart_points(page)[:4] == [3, 3, 3, 3]  # round trip, loss, jitter, bitrate: three points each
    for title in ("Round trip", "Packet loss", "Jitter", "Bitrate"):
        assert title in page
    assert "Round trip: 40.0–70.0 ms; 70.0 ms" in page  # what a screen reader hears
    assert 'data-threshold="3"' in page  # the loss chart shows where the alert starts
    # Under the embedded default there is one media node, so no cross-border link to chart.
    assert "One media node: no cross-border link." in page
    # The panel the page refreshes every few seconds, and the console's link to the page.
    panel = signed_in(operator).get(f"/en/live/rooms/{room.pk}/links/panel/").content.decode()
    assert chart_points(panel)[:4] == [3, 3, 3, 3]
    assert (
        f"/en/live/rooms/{room.pk}/links/"
        in signed_in(operator).get(f"/en/live/rooms/{room.pk}/devices/").content.decode()
    )


def test_only_the_last_15_minutes_are_charted_live_and_old_samples_are_pruned(room_live: Any, settings: Any) -> None:
    room, operator, session, _agent = room_live
    now = timezone.now()
    agent_report_observe(
        room_id=room.pk, report=report(session.pk, rtt=50, loss=0, jitter=1), now=now - timedelta(minutes=20)
    )
    agent_report_observe(room_id=room.pk, report=report(session.pk, rtt=50, loss=0, jitter=1), now=now)
    page = signed_in(operator).get(f"/en/live/rooms/{room.pk}/links/").content.decode()
    assert chart_points(page)[:4] == [1, 1, 1, 1]
    settings.LINK_SAMPLES_KEEP_DAYS = 1
    agent_report_observe(
        room_id=room.pk, report=report(session.pk, rtt=50, loss=0, jitter=1), now=now - timedelta(days=2)
    )
    assert link_samples_prune(now=now) == 1
    assert LinkSample.objects.count() == 2


def test_the_charts_are_for_the_rooms_operators_only(room_live: Any) -> None:
    room, _operator, session, _agent = room_live
    for user in (factories.operator(), factories.trainee(), session.instructor):
        assert signed_in(user).get(f"/en/live/rooms/{room.pk}/links/").status_code == 403
        assert signed_in(user).get(f"/en/live/rooms/{room.pk}/links/panel/").status_code == 403
    assert signed_in(factories.administrator()).get(f"/en/live/rooms/{room.pk}/links/").status_code == 200


def test_a_sessions_link_quality_is_kept_and_shown_after_it(room_live: Any, settings: Any) -> None:
    room, operator, session, _agent = room_live
    now = timezone.now()
    for k in range(4):
        agent_report_observe(
            room_id=room.pk,
            report=report(session.pk, rtt=60 + k, loss=0.2, jitter=2),
            now=now - timedelta(minutes=4 - k),
        )
    link_samples_cross_record(
        nodes=[
            {
                "id": "sg",
                "city": "singapore",
                "links": [
                    {
                        "peer": "cq:7000",
                        "rtt_ms": 64,
                        "loss_pct": 0.1,
                        "jitter_ms": 3,
                        "send_kbps": 800,
                        "at": now.timestamp(),
                    }
                ],
            }
        ],
        now=now - timedelta(minutes=1),
    )
    session.state, session.live_until = SessionState.ENDED, now
    session.save()

    page = signed_in(operator).get(f"/en/live/sessions/{session.pk}/links/").content.decode()
    assert "Marina Bay Studio to the media server" in page
    assert chart_points(page) == [4, 4, 4, 4, 1, 1, 1, 1]  # the room's four charts, then the cities' link
    assert signed_in(session.instructor).get(f"/en/live/sessions/{session.pk}/links/").status_code == 200
    trainee = factories.trainee()
    factories_enrol(trainee, session.course)
    assert signed_in(trainee).get(f"/en/live/sessions/{session.pk}/links/").status_code == 403
    outsider = signed_in(factories.operator()).get(f"/en/live/sessions/{session.pk}/links/")
    assert outsider.status_code == 403
    # The live page links to it for the session's staff.
    live_page = signed_in(operator).get(f"/en/live/sessions/{session.pk}/").content.decode()
    assert f"/en/live/sessions/{session.pk}/links/" in live_page
    report_page = signed_in(operator).get(f"/en/live/sessions/{session.pk}/attendance/").content.decode()
    assert f"/en/live/sessions/{session.pk}/links/" in report_page


def test_the_periodic_task_samples_the_nodes_link_from_redis(room_live: Any, settings: Any, redis_url: str) -> None:
    room, operator, *_ = room_live
    prefix = f"corridor-test-links-{uuid.uuid4().hex[:8]}"
    settings.SFU_MODE, settings.REDIS_URL, settings.SFU_REDIS_PREFIX = "nodes", redis_url, prefix
    now = timezone.now().timestamp()
    link = {
        "peer": "10.1.0.2:7400",
        "rtt_ms": 66.0,
        "loss_pct": 1.5,
        "jitter_ms": 4.5,
        "send_kbps": 950.0,
        "receive_kbps": 940.0,
        "streams_out": 2,
        "streams_in": 2,
        "nacks_sent": 0,
        "nacks_received": 0,
        "retransmissions": 0,
        "keyframe_requests_sent": 0,
        "at": now,
    }
    record: Any = {
        "id": "node-sg",
        "address": "",
        "channel": "x",
        "sessions": 0,
        "sockets": 0,
        "peers": 0,
        "publishers": 0,
        "subscribers": 0,
        "tracks": 0,
        "updated": now,
        "city": "singapore",
        "links": [link],
    }

    async def register() -> None:
        redis = Redis.from_url(redis_url)
        try:
            await node_register(redis, prefix=prefix, record=record, ttl=30)
        finally:
            await redis.aclose()

    asyncio.run(register())
    assert sample_node_links.apply().get() == 1
    sample = LinkSample.objects.get(scope=LinkScope.CROSS)
    assert (sample.peer, sample.rtt_ms, sample.loss_pct, sample.jitter_ms, sample.bitrate_kbps) == (
        "singapore→10.1.0.2:7400",
        66.0,
        1.5,
        4.5,
        950.0,
    )
    page = signed_in(operator).get(f"/en/live/rooms/{room.pk}/links/").content.decode()
    assert "One media node" not in page
    assert chart_points(page)[4:] == [1, 1, 1, 1]


def test_one_media_node_samples_nothing(db: Any) -> None:
    assert sample_node_links.apply().get() == 0
    assert not LinkSample.objects.exists()
