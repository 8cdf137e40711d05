"""A one-to-one live session (an internship check-in: `LiveSession.one_to_one_with`): only its instructor, its one
other person and administrators take part; nobody else enrolled in its course may open its page, find it on their
timetable or course page, or is reminded of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from classrooms.models import LiveSession
from classrooms.selectors.participants import Participant, session_participant, session_participants
from classrooms.selectors.reminders import session_reminder_recipients
from classrooms.selectors.sessions import joinable_session_for_course
from classrooms.selectors.timetable import sessions_of
from classrooms.services.sessions import session_schedule
from tests import factories
from tests.classrooms.factories import RoomFactory, enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def call() -> Any:
    """A course with an enrolled trainee (Wei), a class of it, and a one-to-one of it between Grace (instructor)
    and Mei (the one other person, enrolled too)."""
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    grace, mei, wei = factories.supervisor(), factories.trainee(), factories.trainee()
    enrol(mei, course)
    enrol(wei, course)
    starts_at = timezone.now() + timedelta(hours=2)
    session = session_schedule(
        title="Check-in",
        course=course,
        instructor=grace,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        rooms=[],
        by=grace,
        one_to_one_with=mei,
    )
    room = RoomFactory.create()
    operator = factories.operator()
    room.operators.add(operator)
    lesson = session_schedule(
        title="Class",
        course=course,
        instructor=factories.instructor(),
        starts_at=starts_at + timedelta(hours=3),
        ends_at=starts_at + timedelta(hours=4),
        rooms=[room],
    )

    class Call:
        pass

    found = Call()
    found.__dict__.update(
        course=course, grace=grace, mei=mei, wei=wei, session=session, lesson=lesson, operator=operator, room=room
    )
    return found


def test_only_its_two_people_and_administrators_take_part(call: Any) -> None:
    admin = factories.administrator()
    session = LiveSession.objects.get(pk=call.session.pk)
    assert session.rooms.count() == 0
    assert session_participant(session=session, user=call.grace) == Participant.INSTRUCTOR
    assert session_participant(session=session, user=call.mei) == Participant.TRAINEE
    assert session_participant(session=session, user=admin) == Participant.ADMINISTRATOR
    assert session_participant(session=session, user=call.wei) is None  # enrolled in the course, not in the call
    assert session_participant(session=session, user=call.operator) is None
    everyone = [call.grace.pk, call.mei.pk, admin.pk, call.wei.pk, call.operator.pk]
    assert session_participants(session_id=session.pk, user_ids=everyone) == {
        call.grace.pk: Participant.INSTRUCTOR,
        call.mei.pk: Participant.TRAINEE,
        admin.pk: Participant.ADMINISTRATOR,
    }
    # The class of the same course is still every enrolled trainee's.
    assert session_participant(session=call.lesson, user=call.wei) == Participant.TRAINEE


def test_a_third_person_enrolled_in_the_course_cannot_open_its_page(call: Any) -> None:
    path = f"/en/live/sessions/{call.session.pk}/"
    for person, status in ((call.wei, 404), (call.operator, 404), (call.mei, 200), (call.grace, 200)):
        client = Client()
        client.force_login(person)
        assert client.get(path).status_code == status, person


def test_the_course_page_and_the_timetable_offer_it_to_its_two_people_only(call: Any) -> None:
    now = timezone.now()
    key = call.course.translation_key
    assert joinable_session_for_course(user=call.mei, course_key=key, now=now) == call.session
    assert joinable_session_for_course(user=call.grace, course_key=key, now=now) == call.session
    assert joinable_session_for_course(user=call.wei, course_key=key, now=now) == call.lesson
    assert set(sessions_of(user=call.mei)) == {call.session, call.lesson}
    assert set(sessions_of(user=call.wei)) == {call.lesson}
    assert set(sessions_of(user=call.grace)) == {call.session}


def test_its_reminder_goes_to_its_two_people(call: Any) -> None:
    assert {user.pk for user in session_reminder_recipients(session=call.session)} == {call.grace.pk, call.mei.pk}
    assert call.wei.pk in {user.pk for user in session_reminder_recipients(session=call.lesson)}
