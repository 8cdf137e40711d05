"""Scheduling live sessions: a double-booked room or instructor is refused, by the service and in the admin."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from classrooms.models import LiveEvent, LiveSession, Room, SessionState
from classrooms.services.sessions import session_schedule, session_update
from courses.models import CoursePage
from lms.accounts.models import User
from lms.errors import CorridorError
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory

pytestmark = pytest.mark.django_db

# 09:00–10:00 in Singapore and Chongqing (UTC+8) on a Monday.
NINE = datetime(2031, 3, 3, 1, 0, tzinfo=UTC)
TEN = NINE + timedelta(hours=1)
SESSIONS = "/admin/snippets/classrooms/livesession/"
ROOMS = "/admin/snippets/classrooms/room/"


@pytest.fixture
def setting(course: Any) -> Any:
    class Setting:
        course: CoursePage
        singapore: Room
        chongqing: Room
        instructor: User
        other_instructor: User

    s = Setting()
    s.course = course
    s.singapore = RoomFactory.create(name="Marina Room", city="singapore")
    s.chongqing = RoomFactory.create(name="Jiefangbei Room", city="chongqing")
    s.instructor = factories.instructor(first_name="Mei", last_name="Tan")
    s.other_instructor = factories.instructor(first_name="Arun", last_name="Pillai")
    return s


def schedule(setting: Any, *, instructor: Any, rooms: list[Room], starts_at: datetime = NINE) -> LiveSession:
    return session_schedule(
        title="Cross-border design review",
        course=setting.course,
        instructor=instructor,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        rooms=rooms,
    )


def form_data(setting: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Safety briefing",
        "course": setting.course.pk,
        "module": "",
        "instructor": setting.instructor.pk,
        "starts_at": "2031-03-03 09:30",
        "ends_at": "2031-03-03 10:30",
        "rooms": [setting.singapore.pk],
        "online_seats": 40,
    }
    data.update(overrides)
    return data


def admin_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The service


def test_service_refuses_a_double_booked_room_naming_it(setting: Any) -> None:
    schedule(setting, instructor=setting.instructor, rooms=[setting.singapore])
    with pytest.raises(CorridorError) as refused:
        schedule(setting, instructor=setting.other_instructor, rooms=[setting.singapore, setting.chongqing])
    assert refused.value.code == "schedule_clash"
    assert "Marina Room (Singapore)" in refused.value.message
    assert "Jiefangbei" not in refused.value.message
    assert LiveSession.objects.count() == 1


def test_service_refuses_a_double_booked_instructor_naming_them(setting: Any) -> None:
    schedule(setting, instructor=setting.instructor, rooms=[setting.singapore])
    with pytest.raises(CorridorError) as refused:
        schedule(
            setting, instructor=setting.instructor, rooms=[setting.chongqing], starts_at=NINE + timedelta(minutes=30)
        )
    assert "Mei Tan is already teaching" in refused.value.message


def test_service_allows_back_to_back_sessions_and_ended_ones(setting: Any) -> None:
    first = schedule(setting, instructor=setting.instructor, rooms=[setting.singapore])
    schedule(setting, instructor=setting.instructor, rooms=[setting.singapore], starts_at=TEN)
    first.state = SessionState.ENDED
    first.save()
    schedule(setting, instructor=setting.other_instructor, rooms=[setting.singapore])
    assert LiveSession.objects.count() == 3


# The Wagtail admin


def test_instructor_schedules_a_session_in_local_time(setting: Any) -> None:
    client = admin_client(setting.instructor)
    page = client.get(f"{SESSIONS}add/")
    assert page.status_code == 200
    assert page.context["form"].initial["instructor"] == setting.instructor.pk  # themselves by default
    response = client.post(f"{SESSIONS}add/", form_data(setting, rooms=[setting.singapore.pk, setting.chongqing.pk]))
    assert response.status_code == 302, response.context["form"].errors
    session = LiveSession.objects.get(title="Safety briefing")
    # Entered on the cities' clock (UTC+8), stored in UTC.
    assert session.starts_at == datetime(2031, 3, 3, 1, 30, tzinfo=UTC)
    assert session.ends_at == datetime(2031, 3, 3, 2, 30, tzinfo=UTC)
    assert set(session.rooms.all()) == {setting.singapore, setting.chongqing}
    assert session.instructor == setting.instructor
    assert session.state == SessionState.SCHEDULED
    listing = client.get(SESSIONS).content.decode()
    assert "Safety briefing" in listing
    assert "2031-03-03 09:30" in listing


def test_admin_form_refuses_a_double_booked_room_naming_it(setting: Any) -> None:
    schedule(setting, instructor=setting.other_instructor, rooms=[setting.singapore])
    response = admin_client(setting.instructor).post(f"{SESSIONS}add/", form_data(setting))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert "Marina Room (Singapore) is already booked" in errors
    assert "Cross-border design review" in errors
    assert "Marina Room (Singapore) is already booked" in response.content.decode()
    assert not LiveSession.objects.filter(title="Safety briefing").exists()


def test_admin_form_refuses_a_double_booked_instructor_naming_them(setting: Any) -> None:
    schedule(setting, instructor=setting.instructor, rooms=[setting.chongqing])
    response = admin_client(setting.instructor).post(f"{SESSIONS}add/", form_data(setting))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert "Mei Tan is already teaching" in errors
    assert not LiveSession.objects.filter(title="Safety briefing").exists()


def test_admin_form_requires_the_end_after_the_start(setting: Any) -> None:
    data = form_data(setting, ends_at="2031-03-03 09:00")
    response = admin_client(setting.instructor).post(f"{SESSIONS}add/", data)
    assert response.status_code == 200
    assert response.context["form"].errors["ends_at"] == ["A session must end after it starts."]
    assert not LiveSession.objects.exists()


def test_editing_a_session_does_not_clash_with_itself_and_moving_it_rearms_the_reminder(setting: Any) -> None:
    session = schedule(setting, instructor=setting.instructor, rooms=[setting.singapore])
    LiveSession.objects.filter(pk=session.pk).update(reminder_sent_at=NINE - timedelta(minutes=20))
    client = admin_client(setting.instructor)
    edit = f"{SESSIONS}edit/{session.pk}/"
    data = form_data(setting, title=session.title, starts_at="2031-03-03 09:00", ends_at="2031-03-03 10:00")
    assert client.post(edit, data).status_code == 302
    session.refresh_from_db()
    assert session.reminder_sent_at is not None  # unchanged time: the reminder stays sent
    assert (
        client.post(edit, {**data, "starts_at": "2031-03-04 09:00", "ends_at": "2031-03-04 10:00"}).status_code == 302
    )
    session.refresh_from_db()
    assert session.starts_at == NINE + timedelta(days=1)
    assert session.reminder_sent_at is None


def test_module_must_belong_to_the_course(setting: Any, catalogue: Any) -> None:
    other_course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    foreign_module = other_course.get_children().first()
    response = admin_client(setting.instructor).post(f"{SESSIONS}add/", form_data(setting, module=foreign_module.pk))
    assert response.status_code == 200
    assert "module" in response.context["form"].errors
    own_module = setting.course.get_children().first()
    response = admin_client(setting.instructor).post(f"{SESSIONS}add/", form_data(setting, module=own_module.pk))
    assert response.status_code == 302


def test_listing_filters_by_city_and_searches(setting: Any) -> None:
    LiveSessionFactory.create(
        title="Singapore only", course=setting.course, instructor=setting.instructor, rooms=[setting.singapore]
    )
    LiveSessionFactory.create(
        title="Chongqing only", course=setting.course, instructor=setting.other_instructor, rooms=[setting.chongqing]
    )
    client = admin_client(factories.administrator())
    by_city = client.get(SESSIONS, {"city": "chongqing"}).content.decode()
    assert "Chongqing only" in by_city and "Singapore only" not in by_city
    found = client.get(SESSIONS, {"q": "singapore"}).content.decode()
    assert "Singapore only" in found and "Chongqing only" not in found


def test_trainees_cannot_reach_the_scheduling_views(setting: Any) -> None:
    session = LiveSessionFactory.create(course=setting.course, instructor=setting.instructor)
    client = admin_client(factories.trainee())
    for url in (SESSIONS, f"{SESSIONS}add/", f"{SESSIONS}edit/{session.pk}/", ROOMS):
        response = client.get(url)
        assert response.status_code in {302, 403}, url
        assert response.status_code == 403 or "/admin/login/" in response["Location"]
    assert client.post(f"{SESSIONS}add/", form_data(setting)).status_code in {302, 403}
    assert not LiveSession.objects.filter(title="Safety briefing").exists()


def test_rooms_are_managed_by_administrators_not_instructors(setting: Any) -> None:
    instructor = admin_client(setting.instructor)
    assert instructor.get(ROOMS).status_code == 200  # they see the rooms they schedule into
    assert instructor.get(f"{ROOMS}add/").status_code in {302, 403}
    admin = admin_client(factories.administrator())
    operator = factories.operator()
    response = admin.post(
        f"{ROOMS}add/", {"name": "Raffles Room", "city": "singapore", "capacity": 24, "operators": [operator.pk]}
    )
    assert response.status_code == 302, response.context["form"].errors
    room = Room.objects.get(name="Raffles Room")
    assert list(room.operators.all()) == [operator]


# One path: the admin schedules through the services; instructors keep to their own sessions


def test_service_lets_an_instructor_schedule_only_themselves(setting: Any) -> None:
    with pytest.raises(CorridorError) as refused:
        session_schedule(
            title="Someone else's class",
            course=setting.course,
            instructor=setting.other_instructor,
            starts_at=NINE,
            ends_at=TEN,
            rooms=[],
            by=setting.instructor,
        )
    assert refused.value.code == "forbidden"
    own = session_schedule(
        title="My class",
        course=setting.course,
        instructor=setting.instructor,
        starts_at=NINE,
        ends_at=TEN,
        rooms=[],
        recorded=True,
        by=setting.instructor,
    )
    assert own.recorded is True
    fields = {"title": "Moved", "course": setting.course, "starts_at": TEN, "ends_at": TEN + timedelta(hours=1)}
    with pytest.raises(CorridorError) as refused:  # nor hand their session to someone else
        session_update(session=own, instructor=setting.other_instructor, rooms=[], by=setting.instructor, **fields)
    assert refused.value.code == "forbidden"
    theirs = schedule(setting, instructor=setting.other_instructor, rooms=[], starts_at=TEN + timedelta(hours=2))
    with pytest.raises(CorridorError) as refused:  # nor edit someone else's
        session_update(session=theirs, instructor=setting.instructor, rooms=[], by=setting.instructor, **fields)
    assert refused.value.code == "forbidden"
    admin = factories.administrator()
    moved = session_update(session=own, instructor=setting.other_instructor, rooms=[], by=admin, **fields)
    assert (moved.title, moved.instructor, moved.recorded) == ("Moved", setting.other_instructor, False)


def test_instructors_list_and_edit_only_their_own_sessions_administrators_all(setting: Any) -> None:
    mine = schedule(setting, instructor=setting.instructor, rooms=[setting.singapore])
    theirs = session_schedule(
        title="Arun's workshop",
        course=setting.course,
        instructor=setting.other_instructor,
        starts_at=NINE,
        ends_at=TEN,
        rooms=[setting.chongqing],
    )
    client = admin_client(setting.instructor)
    listing = client.get(SESSIONS).content.decode()
    assert "Cross-border design review" in listing and "Arun&#x27;s workshop" not in listing
    assert "Arun's workshop" not in listing
    for own_page in ("edit", "copy", "history", "usage"):
        assert client.get(f"{SESSIONS}{own_page}/{mine.pk}/").status_code == 200, own_page
    for refused in (
        client.get(f"{SESSIONS}edit/{theirs.pk}/"),
        client.post(f"{SESSIONS}edit/{theirs.pk}/", form_data(setting, title="Taken over")),
        client.get(f"{SESSIONS}delete/{theirs.pk}/"),
        client.post(f"{SESSIONS}delete/{theirs.pk}/"),
        client.get(f"{SESSIONS}copy/{theirs.pk}/"),
        client.get(f"{SESSIONS}history/{theirs.pk}/"),
        client.get(f"{SESSIONS}usage/{theirs.pk}/"),
    ):
        # Wagtail answers a refusal by sending the user to the admin's home with "Sorry, you do not have permission".
        assert refused.status_code == 302 and refused["Location"] == "/admin/"
    theirs.refresh_from_db()
    assert theirs.title == "Arun's workshop"

    admin = admin_client(factories.administrator())
    listing = admin.get(SESSIONS).content.decode()
    assert "Cross-border design review" in listing and "Arun&#x27;s workshop" in listing
    data = form_data(
        setting,
        title="Arun's workshop, moved",
        instructor=setting.other_instructor.pk,
        starts_at="2031-03-05 09:00",
        ends_at="2031-03-05 10:00",
        rooms=[setting.chongqing.pk],
    )
    assert admin.post(f"{SESSIONS}edit/{theirs.pk}/", data).status_code == 302
    theirs.refresh_from_db()
    assert theirs.title == "Arun's workshop, moved" and theirs.instructor == setting.other_instructor


def test_the_instructor_field_is_fixed_to_the_instructor_themselves(setting: Any) -> None:
    client = admin_client(setting.instructor)
    form = client.get(f"{SESSIONS}add/").context["form"]
    assert form.fields["instructor"].disabled
    assert list(form.fields["instructor"].queryset) == [setting.instructor]
    # A forged post naming someone else schedules the instructor themselves.
    response = client.post(f"{SESSIONS}add/", form_data(setting, instructor=setting.other_instructor.pk))
    assert response.status_code == 302
    assert LiveSession.objects.get(title="Safety briefing").instructor == setting.instructor


def test_the_admin_form_records_the_session_when_asked(setting: Any) -> None:
    client = admin_client(setting.instructor)
    page = client.get(f"{SESSIONS}add/").content.decode()
    assert 'name="recorded"' in page and "Record this session" in page
    assert client.post(f"{SESSIONS}add/", form_data(setting, recorded="on")).status_code == 302
    session = LiveSession.objects.get(title="Safety briefing")
    assert session.recorded is True
    edit = f"{SESSIONS}edit/{session.pk}/"
    assert client.post(edit, form_data(setting)).status_code == 302  # unticked
    session.refresh_from_db()
    assert session.recorded is False
    # Open pages heard it, as if switched on the live page (the indicator goes away there at once).
    events = LiveEvent.objects.filter(session=session, kind="session.recording").values_list("payload", flat=True)
    assert list(events) == [{"recorded": False}]


def test_an_edit_that_would_clash_is_refused_on_the_form_and_changes_nothing(setting: Any) -> None:
    schedule(setting, instructor=setting.other_instructor, rooms=[setting.singapore], starts_at=TEN)
    mine = schedule(setting, instructor=setting.instructor, rooms=[setting.chongqing])
    data = form_data(setting, title="Moved into a clash", starts_at="2031-03-03 10:00", ends_at="2031-03-03 11:00")
    response = admin_client(setting.instructor).post(f"{SESSIONS}edit/{mine.pk}/", data)
    assert response.status_code == 200
    assert "Marina Room (Singapore) is already booked" in " ".join(response.context["form"].non_field_errors())
    mine.refresh_from_db()
    assert (mine.title, mine.starts_at) == ("Cross-border design review", NINE)
