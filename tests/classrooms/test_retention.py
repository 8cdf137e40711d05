"""Retention (classrooms.services.retention, beat's `classrooms.tasks.expire_live_data`): live events and attendance
detail of sessions over for longer than their configured age are deleted; recent sessions, live sessions, each
trainee's attendance record (minutes, recording consent) and so what certificates read are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from classrooms import tasks
from classrooms.models import (
    AttendanceCheckin,
    AttendanceRecord,
    AttendanceSource,
    AttendanceStay,
    LiveEvent,
    LiveSession,
    RecordingConsent,
    SessionState,
)
from classrooms.selectors.attendance import attendance_report, course_live_minutes
from classrooms.services import retention
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@dataclass
class World:
    course: Any
    trainee: Any
    instructor: Any
    old: LiveSession
    recent: LiveSession
    running: LiveSession


def held(course: Any, instructor: Any, *, days_ago: int, state: str = SessionState.ENDED) -> LiveSession:
    starts = NOW - timedelta(days=days_ago, hours=2)
    session = LiveSessionFactory.create(
        course=course,
        instructor=instructor,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        state=state,
        rooms=[RoomFactory.create()],
    )
    if state == SessionState.ENDED:
        LiveSession.objects.filter(pk=session.pk).update(live_since=starts, live_until=starts + timedelta(hours=1))
    return session


def attended(session: LiveSession, user: Any, minutes: int, *, consent: str = "") -> None:
    record = AttendanceRecord.objects.create(
        session=session,
        user=user,
        recording_consent=consent,
        recording_consent_at=session.starts_at if consent else None,
    )
    start = session.starts_at + timedelta(minutes=5)
    end = start + timedelta(minutes=minutes)
    AttendanceStay.objects.create(
        record=record, source=AttendanceSource.REMOTE, started_at=start, last_seen_at=end, ended_at=end
    )
    room = session.rooms.get()
    AttendanceCheckin.objects.create(session=session, room=room, user=user, window=1, checked_in_at=start)
    event = LiveEvent.objects.create(session=session, kind="question.created", payload={})
    LiveEvent.objects.filter(pk=event.pk).update(created_at=session.starts_at)


@pytest.fixture
def world(settings: Any) -> World:
    settings.RETENTION_LIVE_EVENTS_DAYS = 30
    settings.RETENTION_ATTENDANCE_DETAIL_DAYS = 30
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    trainee, instructor = factories.trainee(), factories.instructor()
    enrol(trainee, course)
    old = held(course, instructor, days_ago=40)
    recent = held(course, instructor, days_ago=5)
    # Live for 41 days (forgotten): never touched while live.
    running = held(course, instructor, days_ago=41, state=SessionState.LIVE)
    attended(old, trainee, 45, consent=RecordingConsent.AGREED)
    attended(recent, trainee, 30)
    attended(running, trainee, 20)
    return World(course, trainee, instructor, old, recent, running)


def test_old_events_and_attendance_detail_go_and_the_minutes_and_consent_stay(world: World) -> None:
    report_before = attendance_report(session=world.old, now=NOW).rows
    certificates_before = course_live_minutes(
        course_key=world.course.translation_key, user_ids=[world.trainee.pk], now=NOW
    ).attended_seconds[world.trainee.pk]
    assert certificates_before == (45 + 30 + 20) * 60

    assert tasks.expire_live_data() == {"live_events": 1, "attendance_detail": 2}

    assert not LiveEvent.objects.filter(session=world.old).exists()
    assert not AttendanceStay.objects.filter(record__session=world.old).exists()
    assert not AttendanceCheckin.objects.filter(session=world.old).exists()
    for kept in (world.recent, world.running):
        assert LiveEvent.objects.filter(session=kept).count() == 1
        assert AttendanceStay.objects.filter(record__session=kept).count() == 1
        assert AttendanceCheckin.objects.filter(session=kept).count() == 1
    record = AttendanceRecord.objects.get(session=world.old, user=world.trainee)
    assert record.attended_seconds == 45 * 60 and record.detail_pruned_at is not None
    assert record.recording_consent == RecordingConsent.AGREED

    # The report and the certificates' eligibility read the same minutes as before.
    [row] = attendance_report(session=world.old, now=NOW).rows
    assert (row.minutes, row.percent, row.recording_consent) == (
        report_before[0].minutes,
        report_before[0].percent,
        "agreed",
    )
    assert row.detail_pruned
    assert (
        course_live_minutes(
            course_key=world.course.translation_key, user_ids=[world.trainee.pk], now=NOW
        ).attended_seconds[world.trainee.pk]
        == certificates_before
    )
    client = Client()
    client.force_login(world.instructor)
    page = client.get(f"/en/live/sessions/{world.old.pk}/attendance/").content.decode()
    assert "Details deleted after the retention period" in page and '<td class="number">45</td>' in page

    # Idempotent: a second run finds nothing left to delete and changes no summary.
    assert tasks.expire_live_data() == {"live_events": 0, "attendance_detail": 0}
    assert AttendanceRecord.objects.get(pk=record.pk).attended_seconds == 45 * 60


def test_zero_keeps_everything(world: World, settings: Any) -> None:
    settings.RETENTION_LIVE_EVENTS_DAYS = 0
    settings.RETENTION_ATTENDANCE_DETAIL_DAYS = 0
    assert tasks.expire_live_data() == {"live_events": 0, "attendance_detail": 0}
    assert LiveEvent.objects.count() == 3 and AttendanceStay.objects.count() == 3


def test_a_run_that_dies_midway_loses_nothing_that_should_stay(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    older = held(world.course, world.instructor, days_ago=50)
    attended(older, world.trainee, 10)
    calls: list[int] = []

    class CheckinsThatDieOnTheSecondSession:
        """The worker dies after the second session's stays were deleted, inside its transaction."""

        class objects:  # stands in for the model's manager
            @staticmethod
            def filter(*, session: LiveSession) -> Any:
                calls.append(session.pk)
                if len(calls) == 2:
                    raise RuntimeError("the worker died")
                return AttendanceCheckin.objects.filter(session=session)

    monkeypatch.setattr(retention, "AttendanceCheckin", CheckinsThatDieOnTheSecondSession)
    with pytest.raises(RuntimeError):
        retention.attendance_detail_expire(now=NOW, batch_size=1)
    # The first session is summarised and pruned; the second's transaction rolled back whole: stays and no summary.
    first, second = calls
    assert AttendanceRecord.objects.get(session_id=first).detail_pruned_at is not None
    assert AttendanceStay.objects.filter(record__session_id=second).count() == 1
    assert AttendanceRecord.objects.get(session_id=second).detail_pruned_at is None

    monkeypatch.undo()
    assert retention.attendance_detail_expire(now=NOW) == 2
    expected = {world.old.pk: 45 * 60, older.pk: 10 * 60}
    for session_id, seconds in expected.items():
        assert AttendanceRecord.objects.get(session_id=session_id).attended_seconds == seconds
    assert AttendanceStay.objects.filter(record__session=world.recent).count() == 1
