"""Live check-ins (issue 16 item 11): the supervisor schedules a one-to-one check-in with their intern as a live
session without a room; both see it (the intern's page, the dashboard's "next check-in"); nobody else of the course
may join it; afterwards the supervisor writes its notes, and the dashboard's "last check-in" is that day. Refused,
with nothing changed: a supervisor scheduling for another company's intern, a time gone by, an internship without a
course, a supervisor already busy, notes before the check-in was held, notes twice."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from classrooms.selectors.participants import Participant, session_participant
from classrooms.services.sessions import session_end, session_start
from internships import services
from internships.models import CheckIn, LiveCheckIn
from internships.selectors import dashboard_rows
from lms.errors import CorridorError
from lms.timezones import SCHEDULING_TIME_ZONE
from tests import factories
from tests.classrooms.factories import enrol

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def placement() -> Any:
    placement = factories.placement(
        intern=factories.trainee(first_name="Mei", last_name="Tan"),
        supervisor_user=factories.supervisor(first_name="Grace", last_name="Ho"),
    )
    factories.check_in_course(placement)
    return placement


def tomorrow_at(hour: int) -> datetime:
    return datetime.combine(timezone.localdate() + timedelta(days=1), time(hour, 0), tzinfo=SCHEDULING_TIME_ZONE)


def test_the_supervisor_schedules_a_check_in_from_the_interns_page_and_both_see_it(placement: Any) -> None:
    supervisor, intern = placement.supervisor, placement.intern
    client = signed_in(supervisor)
    day = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(
        f"/en/internships/supervise/placements/{placement.pk}/check-ins/schedule/",
        {"day": day, "time": "10:00", "minutes": "30"},
        follow=True,
    )
    assert response.status_code == 200
    assert f"Check-in with Mei Tan scheduled for {day} 10:00 (Singapore time)." in response.content.decode()

    live = LiveCheckIn.objects.get(placement=placement)
    session = live.session
    assert session.starts_at == tomorrow_at(10) and session.ends_at == tomorrow_at(10) + timedelta(minutes=30)
    assert session.rooms.count() == 0
    assert (session.instructor, session.one_to_one_with, session.course) == (
        supervisor,
        intern,
        placement.internship.course,
    )
    assert session.state == SessionState.SCHEDULED
    live_page = f"/en/live/sessions/{session.pk}/"

    [row] = dashboard_rows(user=supervisor, today=timezone.localdate())
    assert row.next_check_in == live
    dashboard = client.get("/en/internships/supervise/").content.decode()
    assert live_page in dashboard and f"Join the check-in of {day} 10:00 (UTC+8)" in dashboard
    mine = signed_in(intern).get("/en/internships/").content.decode()
    assert live_page in mine and "Join the check-in with Grace Ho" in mine
    assert signed_in(intern).get(live_page).status_code == 200


def test_nobody_else_enrolled_in_the_course_may_join_it(placement: Any) -> None:
    live = services.check_in_schedule(
        placement=placement, by=placement.supervisor, starts_at=tomorrow_at(10), minutes=30
    )
    classmate = factories.trainee()
    enrol(classmate, placement.internship.course)
    enrol(placement.intern, placement.internship.course)
    session = live.session
    assert session_participant(session=session, user=placement.supervisor) == Participant.INSTRUCTOR
    assert session_participant(session=session, user=placement.intern) == Participant.TRAINEE
    assert session_participant(session=session, user=classmate) is None
    assert signed_in(classmate).get(f"/en/live/sessions/{session.pk}/").status_code == 404
    # Nor may another company's supervisor.
    other = factories.placement(company_name="Harbour Labs")
    assert session_participant(session=session, user=other.supervisor) is None


def test_a_supervisor_cannot_schedule_for_another_companys_intern(placement: Any) -> None:
    other = factories.placement(intern=factories.trainee(first_name="Na", last_name="Li"), company_name="Harbour Labs")
    factories.check_in_course(other)
    with pytest.raises(CorridorError) as refused:
        services.check_in_schedule(placement=other, by=placement.supervisor, starts_at=tomorrow_at(10), minutes=30)
    assert refused.value.status == 403
    # From the page, a forged placement id is a 404.
    response = signed_in(placement.supervisor).post(
        f"/en/internships/supervise/placements/{other.pk}/check-ins/schedule/",
        {"day": (timezone.localdate() + timedelta(days=1)).isoformat(), "time": "10:00", "minutes": "30"},
    )
    assert response.status_code == 404
    # The coordinator reads the placement but is not the one to hold the check-in.
    with pytest.raises(CorridorError):
        services.check_in_schedule(placement=other, by=other.coordinator, starts_at=tomorrow_at(10), minutes=30)
    assert not LiveCheckIn.objects.exists() and not LiveSession.objects.exists()


def test_refusals_of_time_course_and_a_busy_supervisor_change_nothing(placement: Any) -> None:
    by = placement.supervisor
    with pytest.raises(CorridorError, match="still to come"):
        services.check_in_schedule(
            placement=placement, by=by, starts_at=timezone.now() - timedelta(hours=1), minutes=30
        )
    with pytest.raises(CorridorError, match="between 15 minutes and 3 hours"):
        services.check_in_schedule(placement=placement, by=by, starts_at=tomorrow_at(10), minutes=5)
    with pytest.raises(CorridorError, match="while the internship runs"):
        services.check_in_schedule(
            placement=placement, by=by, starts_at=tomorrow_at(10) + timedelta(weeks=20), minutes=30
        )
    services.check_in_schedule(placement=placement, by=by, starts_at=tomorrow_at(10), minutes=60)
    with pytest.raises(CorridorError, match="already teaching") as busy:
        services.check_in_schedule(
            placement=placement, by=by, starts_at=tomorrow_at(10) + timedelta(minutes=30), minutes=30
        )
    assert busy.value.status == 409
    assert LiveSession.objects.count() == LiveCheckIn.objects.count() == 1

    internship = placement.internship
    internship.course = None
    internship.save(update_fields=["course"])
    with pytest.raises(CorridorError, match="no course for live check-ins") as no_course:
        services.check_in_schedule(placement=placement, by=by, starts_at=tomorrow_at(15), minutes=30)
    assert no_course.value.status == 409
    assert LiveSession.objects.count() == 1


def test_after_the_call_the_supervisor_writes_its_notes_and_the_dashboard_shows_the_day(placement: Any) -> None:
    supervisor = placement.supervisor
    starts_at = timezone.now() + timedelta(minutes=5)
    live = services.check_in_schedule(placement=placement, by=supervisor, starts_at=starts_at, minutes=30)
    client = signed_in(supervisor)
    notes_url = f"/en/internships/supervise/check-ins/{live.pk}/notes/"

    # Not before it was held.
    response = client.post(notes_url, {"notes": "Too early"})
    assert response.status_code == 409 and not CheckIn.objects.exists()

    session_start(session=live.session, by=supervisor)
    session_end(session=live.session, by=supervisor)
    page = client.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode()
    assert notes_url in page and "Notes of this check-in" in page
    [row] = dashboard_rows(user=supervisor, today=timezone.localdate())
    assert row.next_check_in is None and row.last_check_in is None

    # Another company's supervisor cannot write them (a forged id: 404).
    stranger = factories.placement(company_name="Harbour Labs").supervisor
    assert signed_in(stranger).post(notes_url, {"notes": "Mine now"}).status_code == 404

    response = client.post(notes_url, {"notes": "  Sensors on track; next: the test plan.  "})
    assert response.status_code == 302
    check_in = CheckIn.objects.get()
    assert (check_in.live, check_in.placement, check_in.notes, check_in.held_on) == (
        live,
        placement,
        "Sensors on track; next: the test plan.",
        timezone.localtime(LiveSession.objects.get(pk=live.session_id).live_since, SCHEDULING_TIME_ZONE).date(),
    )
    [row] = dashboard_rows(user=supervisor, today=timezone.localdate())
    assert row.last_check_in == check_in.held_on
    assert check_in.held_on.isoformat() in client.get("/en/internships/supervise/").content.decode()

    # Once only.
    assert client.post(notes_url, {"notes": "Again"}).status_code == 409
    assert CheckIn.objects.count() == 1


def test_the_check_in_is_reminded_to_both(placement: Any, mailoutbox: list[Any]) -> None:
    from classrooms.services.reminders import session_reminders_send_due

    live = services.check_in_schedule(
        placement=placement, by=placement.supervisor, starts_at=timezone.now() + timedelta(minutes=30), minutes=30
    )
    classmate = factories.trainee()
    enrol(classmate, placement.internship.course)
    session_reminders_send_due(now=timezone.now())
    recipients = sorted(address for message in mailoutbox for address in message.to)
    assert recipients == sorted([placement.supervisor.email, placement.intern.email]), recipients
    assert LiveSession.objects.get(pk=live.session_id).reminder_sent_at is not None
