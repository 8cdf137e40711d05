"""The periodic auto-end: a session still live 30 minutes after its scheduled end with nobody publishing is ended
(against the real database, with real Publication rows)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from classrooms.models import LiveEvent, LiveSession, SessionState
from streaming import services, tasks
from streaming.models import PublicationKind
from tests.classrooms.factories import LiveSessionFactory

# The task runs where it is sent (with a broker too): this is about what it does, not about the queue.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("tasks_in_process"),
]


def live_session(live: Any, *, ended_ago: timedelta) -> LiveSession:
    ends_at = timezone.now() - ended_ago
    return LiveSessionFactory.create(
        course=live.course,
        instructor=live.instructor,
        rooms=[live.room],
        state=SessionState.LIVE,
        starts_at=ends_at - timedelta(hours=1),
        ends_at=ends_at,
    )


def publishing(session: LiveSession, *, last_seen_ago: timedelta) -> None:
    services.publication_start(
        session_id=session.pk,
        peer_id=f"room-{session.pk}",
        kind=PublicationKind.ROOM,
        label="Marina Room",
        now=timezone.now() - last_seen_ago,
    )


def test_a_forgotten_session_is_ended_and_one_still_publishing_or_just_over_is_not(live: Any) -> None:
    forgotten = live_session(live, ended_ago=timedelta(minutes=31))
    still_on_camera = live_session(live, ended_ago=timedelta(minutes=45))
    publishing(still_on_camera, last_seen_ago=timedelta(seconds=5))
    stale_publisher = live_session(live, ended_ago=timedelta(minutes=40))  # its server died: the row went stale
    publishing(stale_publisher, last_seen_ago=timedelta(minutes=10))
    running_over = live_session(live, ended_ago=timedelta(minutes=20))  # within the 30 minutes' grace

    ended = tasks.end_forgotten_sessions.delay().get()

    assert sorted(ended) == sorted([forgotten.pk, stale_publisher.pk])
    states = dict(LiveSession.objects.values_list("pk", "state"))
    assert states[forgotten.pk] == states[stale_publisher.pk] == SessionState.ENDED
    assert states[still_on_camera.pk] == states[running_over.pk] == SessionState.LIVE
    forgotten.refresh_from_db()
    assert forgotten.live_until is not None
    # Every open page heard it, as when a moderator ends it.
    assert list(LiveEvent.objects.filter(session=forgotten).values_list("kind", "payload")) == [
        ("session.state", {"state": "ended"})
    ]
    # A second run finds nothing more to do.
    assert tasks.end_forgotten_sessions.delay().get() == []


def test_the_sweep_runs_every_minute_on_the_beat() -> None:
    entry: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE["end-forgotten-sessions"]
    assert entry["task"] == tasks.end_forgotten_sessions.name
    assert entry["schedule"] <= timedelta(minutes=1)
