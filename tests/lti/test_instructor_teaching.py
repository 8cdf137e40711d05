"""An LTI Instructor launch (issue 17 item 1) makes the person an instructor of the linked course's live sessions:
on its teaching team (courses.CourseTeacher), they start, end and moderate the course's sessions on the live page
(the HTTP buttons and the socket's entry), see them on their timetable with "Open to start", and edit them in
Wagtail's session editor (keeping their instructor); nothing of another course's sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from classrooms.selectors.participants import MODERATORS, Participant, session_entry, session_participant
from classrooms.selectors.sessions import sessions_managed_by
from classrooms.services.sessions import session_schedule
from courses.models import CourseTeacher, Enrolment
from lms.accounts.models import User
from tests import factories
from tests.factories import lti_platform_registration
from tests.support.lti_platform import INSTRUCTOR, LaunchPlan, Platform, launch_with_client

pytestmark = pytest.mark.django_db

TOOL = "http://testserver"
SESSIONS = "/admin/snippets/classrooms/livesession/"


@pytest.fixture
def courses(catalogue: Any) -> Any:
    """The linked course with two sessions (one starting soon, one next week) taught by Wen, and another course
    with a session of its own."""
    linked = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    other = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    wen, arun = factories.instructor(first_name="Wen", last_name="Lim"), factories.instructor()
    soon = (timezone.now() + timedelta(minutes=10)).replace(second=0, microsecond=0)

    def session(course: Any, instructor: Any, starts_at: Any, title: str) -> LiveSession:
        return session_schedule(
            title=title,
            course=course,
            instructor=instructor,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            rooms=[],
        )

    class Found:
        pass

    found = Found()
    found.__dict__.update(
        linked=linked,
        other=other,
        wen=wen,
        soon=session(linked, wen, soon, "Soon"),
        later=session(linked, wen, soon + timedelta(days=7), "Next week"),
        elsewhere=session(other, arun, soon, "Elsewhere"),
    )
    return found


@pytest.fixture
def platform(db: Any) -> Platform:
    """A partner's LMS, registered with Corridor."""
    platform = Platform(tool_base_url=TOOL)
    lti_platform_registration(platform)
    return platform


def launched_instructor(client: Client, platform: Platform, course: Any) -> User:
    platform.plan = LaunchPlan(custom={"course": course.slug}, roles=[INSTRUCTOR], sub="teacher-7", email="t7@p.sg")
    response, _ = launch_with_client(client, platform)
    assert response.status_code == 302 and response["Location"] == course.url
    return User.objects.get(email="t7@p.sg")


def test_an_instructor_launch_puts_them_on_the_courses_teaching_team(
    client: Client, platform: Platform, courses: Any
) -> None:
    teacher = launched_instructor(client, platform, courses.linked)
    assert CourseTeacher.objects.filter(user=teacher, course_key=courses.linked.translation_key).count() == 1
    assert not Enrolment.objects.filter(user=teacher).exists()
    launched_instructor(client, platform, courses.linked)  # a second launch: still one place on the team
    assert CourseTeacher.objects.filter(user=teacher).count() == 1

    for session in (courses.soon, courses.later):
        assert session_participant(session=session, user=teacher) == Participant.INSTRUCTOR
        assert session_entry(session_id=session.pk, user=teacher).participant in MODERATORS  # the socket's way in
    assert session_participant(session=courses.elsewhere, user=teacher) is None
    assert session_entry(session_id=courses.elsewhere.pk, user=teacher).participant is None


def test_they_start_and_end_the_courses_session_on_the_live_page_and_nothing_of_another_course(
    client: Client, platform: Platform, courses: Any
) -> None:
    launched_instructor(client, platform, courses.linked)
    page = client.get(f"/en/live/sessions/{courses.soon.pk}/").content.decode()
    assert 'id="session-start"' in page and 'id="session-end"' in page

    state = f"/en/live/sessions/{courses.soon.pk}/state/"
    assert client.post(state, {"state": "live"}, HTTP_ACCEPT="application/json").json()["state"] == "live"
    assert LiveSession.objects.get(pk=courses.soon.pk).state == SessionState.LIVE
    assert client.post(state, {"state": "ended"}, HTTP_ACCEPT="application/json").json()["state"] == "ended"
    assert LiveSession.objects.get(pk=courses.soon.pk).state == SessionState.ENDED

    elsewhere = f"/en/live/sessions/{courses.elsewhere.pk}/"
    assert client.get(elsewhere).status_code == 404
    assert client.post(f"{elsewhere}state/", {"state": "live"}).status_code == 404
    assert LiveSession.objects.get(pk=courses.elsewhere.pk).state == SessionState.SCHEDULED


def test_the_timetable_and_the_session_editor_know_them(client: Client, platform: Platform, courses: Any) -> None:
    teacher = launched_instructor(client, platform, courses.linked)
    timetable = client.get("/en/live/timetable/").content.decode()
    assert "Soon" in timetable and "Next week" in timetable and "Elsewhere" not in timetable
    assert "Open to start" in timetable

    assert set(sessions_managed_by(user=teacher)) == {courses.soon, courses.later}
    listing = client.get(SESSIONS).content.decode()
    assert "Next week" in listing and "Elsewhere" not in listing
    edit = client.get(f"{SESSIONS}edit/{courses.later.pk}/")
    assert edit.status_code == 200
    assert client.get(f"{SESSIONS}edit/{courses.elsewhere.pk}/").status_code == 302  # "no permission", sent home

    # They move next week's session by an hour; it keeps Wen as its instructor.
    later = LiveSession.objects.get(pk=courses.later.pk)
    local = timezone.localtime(later.starts_at + timedelta(hours=1), timezone.get_fixed_timezone(8 * 60))
    data = {
        "title": later.title,
        "course": courses.linked.pk,
        "module": "",
        "instructor": teacher.pk,  # ignored: the field is fixed
        "starts_at": local.strftime("%Y-%m-%d %H:%M"),
        "ends_at": (local + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "rooms": [],
        "online_seats": 40,
    }
    response = client.post(f"{SESSIONS}edit/{later.pk}/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    later.refresh_from_db()
    assert later.starts_at == courses.later.starts_at + timedelta(hours=1)
    assert later.instructor == courses.wen
