"""Sittings in exam rooms, with the same clash checks as live sessions (issue 16, item 2)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classrooms.models import LiveSession, Room
from exams import services
from exams.models import Sitting
from lms.errors import CorridorError
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_sitting_lasts_its_exams_duration() -> None:
    exam = factories.ExamFactory.create(duration_minutes=90)
    sitting = factories.sitting(exam=exam)
    assert sitting.ends_at - sitting.starts_at == timedelta(minutes=90)


def test_two_sittings_in_one_room_at_overlapping_times_are_refused_naming_the_booking() -> None:
    room = factories.ExamRoomFactory.create(name="Hall A")
    first = factories.sitting(room=room, exam=factories.ExamFactory.create(code="EX-FIRST", duration_minutes=120))
    with pytest.raises(CorridorError) as refused:
        services.sitting_schedule(
            exam=factories.ExamFactory.create(),
            room=room,
            starts_at=first.starts_at + timedelta(minutes=60),
            seats=5,
            registration_closes_at=first.starts_at - timedelta(days=1),
        )
    assert refused.value.code == "schedule_clash"
    assert "Hall A" in str(refused.value.message) and "EX-FIRST" in str(refused.value.message)
    assert Sitting.objects.count() == 1


def test_back_to_back_sittings_and_other_rooms_do_not_clash() -> None:
    room = factories.ExamRoomFactory.create()
    first = factories.sitting(room=room)
    services.sitting_schedule(
        exam=factories.ExamFactory.create(),
        room=room,
        starts_at=first.ends_at,
        seats=5,
        registration_closes_at=first.starts_at,
    )
    factories.sitting(room=factories.ExamRoomFactory.create())
    assert Sitting.objects.count() == 3


def test_an_exam_room_that_is_also_a_classroom_clashes_with_its_live_sessions(course) -> None:
    classroom = Room.objects.create(name="Jiefangbei Studio", city="chongqing")
    room = factories.ExamRoomFactory.create(classroom=classroom)
    starts_at = timezone.now().replace(microsecond=0) + timedelta(days=3)
    session = LiveSession.objects.create(
        title="Evening class",
        course=course,
        instructor=factories.instructor(),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
    )
    session.rooms.add(classroom)
    with pytest.raises(CorridorError) as refused:
        services.sitting_schedule(
            exam=factories.ExamFactory.create(),
            room=room,
            starts_at=starts_at + timedelta(minutes=30),
            seats=5,
            registration_closes_at=starts_at - timedelta(days=1),
        )
    assert "Evening class" in str(refused.value.message)


def test_a_sitting_offers_no_more_seats_than_its_room_has_and_closes_registration_before_it_starts() -> None:
    room = factories.ExamRoomFactory.create(seats=12)
    with pytest.raises(CorridorError) as refused:
        factories.sitting(room=room, seats=13)
    assert refused.value.code == "too_many_seats"
    with pytest.raises(CorridorError) as refused:
        factories.sitting(room=room, closes_before=timedelta(hours=-1))
    assert refused.value.code == "invalid_time"
    assert not Sitting.objects.exists()


def test_a_sitting_is_never_cut_below_its_registered_candidates() -> None:
    sitting = factories.sitting(seats=3)
    for _ in range(2):
        services.candidate_register(sitting=sitting, user=factories.trainee())
    with pytest.raises(CorridorError) as refused:
        services.sitting_update(
            sitting=sitting,
            exam=sitting.exam,
            room=sitting.room,
            starts_at=sitting.starts_at,
            seats=1,
            registration_closes_at=sitting.registration_closes_at,
        )
    assert refused.value.code == "too_few_seats"
    sitting.refresh_from_db()
    assert sitting.seats == 3
