"""Names and Role Provisioning Services: an instructor launched from a platform course pulls its roster (served by
lti1p3platform's membership service, over HTTP, behind its token endpoint) into a Corridor cohort; its learners are
matched or made as a launch does and enrolled in the linked course. A platform that fails changes nothing; only the
course's instructors (and administrators) may pull."""

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from courses.models import Enrolment
from lms.accounts.models import Cohort, User
from lms.accounts.roles import Role, user_roles
from lti.models import PlatformAccount, PlatformContext, RosterPull, RosterPullState
from tests import factories
from tests.factories import lti_platform_registration
from tests.support.lti_platform import (
    COURSE_TITLE,
    INSTRUCTOR,
    LEARNER,
    LaunchPlan,
    Platform,
    PlatformServer,
    launch_with_client,
    roster_member,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]

TOOL = "http://testserver"
COURSES = "/en/lti/courses/"


@pytest.fixture
def served_platform(client: Client) -> Any:
    platform = Platform(tool_base_url=TOOL)
    with PlatformServer(platform):
        lti_platform_registration(platform)
        platform.tool_jwks = client.get("/lti/jwks/").json()
        yield platform


def roster(learners: int, *, staff: int = 1) -> list[dict[str, Any]]:
    members = [
        roster_member(f"moodle-learner-{n}", name=f"Learner {n}", email=f"learner{n}@poly.example.sg", roles=[LEARNER])
        for n in range(learners)
    ]
    members += [
        roster_member(
            f"moodle-teacher-{n}", name=f"Teacher {n}", email=f"teacher{n}@poly.example.sg", roles=[INSTRUCTOR]
        )
        for n in range(staff)
    ]
    return members


def launch_instructor(client: Client, platform: Platform, course: Any) -> PlatformContext:
    platform.plan = LaunchPlan(
        sub="moodle-teacher-0",
        roles=[INSTRUCTOR],
        email="teacher0@poly.example.sg",
        custom={"course": course.slug},
        nrps=True,
    )
    response, _ = launch_with_client(client, platform)
    assert response.status_code == 302, response.content.decode()[:500]
    return PlatformContext.objects.get()


def pull(client: Client, context: PlatformContext, capture: Any) -> str:
    with capture(execute=True):
        response = client.post(f"/en/lti/courses/{context.pk}/pull/")
    assert response.status_code == 302
    return str(client.get(COURSES).content.decode())


def test_a_launch_with_nrps_remembers_the_platform_course_and_its_instructor(
    client: Client, served_platform: Platform, course: Any
) -> None:
    context = launch_instructor(client, served_platform, course)
    assert (context.context_id, context.title) == ("moodle-course-7", COURSE_TITLE)
    assert context.memberships_url == f"{served_platform.base_url}/memberships"
    assert context.course_key == course.translation_key
    assert list(context.instructors.values_list("email", flat=True)) == ["teacher0@poly.example.sg"]
    page = client.get(COURSES).content.decode()
    assert COURSE_TITLE in page and "Pull the roster into a cohort" in page


def test_a_pull_makes_the_cohort_and_enrolments_and_a_second_pull_changes_nothing(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any
) -> None:
    course.capacity = 200
    course.save()
    context = launch_instructor(client, served_platform, course)
    existing = factories.trainee(email="learner1@poly.example.sg")  # matched by e-mail, as a launch would
    gone = roster_member(
        "moodle-gone", name="Gone Away", email="gone@poly.example.sg", roles=[LEARNER], status="Inactive"
    )
    served_platform.members = [*roster(120, staff=2), gone]
    served_platform.page_size = 50
    started = time.perf_counter()
    page = pull(client, context, django_capture_on_commit_callbacks)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {"lti_roster_pull_120_members_ms": round(elapsed * 1000, 1), "pages": served_platform.roster_requests}
        )
    )
    assert "120 added, 0 already there, 2 staff skipped, 1 inactive skipped" in page, page[page.find("<main") :]
    assert served_platform.roster_requests == 3  # 123 members, 50 a page
    cohort = Cohort.objects.get(name=COURSE_TITLE)
    context.refresh_from_db()
    assert context.cohort == cohort
    assert cohort.members.count() == 120
    assert existing in cohort.members.all()
    assert not cohort.members.filter(email__startswith="teacher").exists()
    assert Enrolment.objects.filter(course_key=course.translation_key).count() == 120
    learner = User.objects.get(email="learner7@poly.example.sg")
    assert (learner.first_name, learner.last_name) == ("Learner", "7")
    assert Role.TRAINEE in user_roles(learner)
    account = PlatformAccount.objects.get(sub="moodle-learner-7")
    assert account.user == learner and account.last_launch_at is None
    assert PlatformAccount.objects.get(sub="moodle-learner-1").user == existing

    # A learner who later launches is the same user (one matching rule).
    served_platform.plan = LaunchPlan(sub="moodle-learner-7", email=None, custom={"course": course.slug}, nrps=True)
    launch_with_client(Client(), served_platform)
    assert User.objects.filter(lti_accounts__sub="moodle-learner-7").count() == 1

    users = User.objects.count()
    page = pull(client, context, django_capture_on_commit_callbacks)
    assert "0 added, 120 already there, 2 staff skipped, 1 inactive skipped" in page
    assert User.objects.count() == users
    assert Cohort.objects.count() == 1
    assert Enrolment.objects.filter(course_key=course.translation_key).count() == 120
    assert RosterPull.objects.filter(state=RosterPullState.DONE).count() == 2


def test_a_platform_that_fails_mid_roster_leaves_nothing_half_done_and_the_page_says_so(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any
) -> None:
    context = launch_instructor(client, served_platform, course)
    served_platform.members = roster(5)
    served_platform.page_size = 2
    served_platform.roster_down = True  # the second page fails
    before = (User.objects.count(), Enrolment.objects.count(), PlatformAccount.objects.count())
    page = pull(client, context, django_capture_on_commit_callbacks)
    assert "The last pull failed; nothing was changed." in page
    assert "The learning platform did not give the roster" in page
    assert (User.objects.count(), Enrolment.objects.count(), PlatformAccount.objects.count()) == before
    assert not Cohort.objects.exists()
    pull_row = RosterPull.objects.get()
    assert pull_row.state == RosterPullState.FAILED and "500" in pull_row.error

    served_platform.roster_down = False
    page = pull(client, context, django_capture_on_commit_callbacks)
    assert "5 added, 0 already there, 1 staff skipped" in page


def test_a_roster_larger_than_the_course_is_refused_whole(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any
) -> None:
    course.capacity = 3
    course.save()
    context = launch_instructor(client, served_platform, course)
    served_platform.members = roster(4)
    page = pull(client, context, django_capture_on_commit_callbacks)
    assert "The last pull failed; nothing was changed. This course is full: all 3 seats are taken." in page
    assert not Enrolment.objects.exists() and not Cohort.objects.exists()
    assert not User.objects.filter(email__startswith="learner").exists()


def test_a_token_without_the_roster_scope_is_refused_by_the_platform(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    context = launch_instructor(client, served_platform, course)
    served_platform.members = roster(3)
    # The platform grants no scope it does not offer: a token asked for another scope does not open the roster.
    monkeypatch.setattr(
        "pylti1p3.names_roles.NamesRolesProvisioningService.get_nrps_data",
        lambda self, members_url=None: self._service_connector.make_service_request(
            ["https://purl.imsglobal.org/spec/lti-ags/scope/score"], members_url or context.memberships_url
        ),
    )
    page = pull(client, context, django_capture_on_commit_callbacks)
    assert "The last pull failed" in page
    assert "401" in RosterPull.objects.get().error
    assert not Cohort.objects.exists()


def test_only_the_courses_instructors_and_administrators_may_pull(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any
) -> None:
    context = launch_instructor(client, served_platform, course)
    served_platform.members = roster(2)
    for person in (factories.instructor(), factories.trainee()):
        other = Client()
        other.force_login(person)
        with django_capture_on_commit_callbacks(execute=True):
            assert other.post(f"/en/lti/courses/{context.pk}/pull/").status_code == 404
        assert COURSE_TITLE not in other.get(COURSES).content.decode()
    assert client.post("/en/lti/courses/987654321/pull/").status_code == 404
    assert not RosterPull.objects.exists() and not Cohort.objects.exists()
    assert served_platform.roster_requests == 0
    admin = Client()
    admin.force_login(factories.administrator())
    assert "2 added" in pull(admin, context, django_capture_on_commit_callbacks)


def test_an_erased_instructor_no_longer_teaches_the_platform_course(
    client: Client, served_platform: Platform, course: Any
) -> None:
    from lms.accounts.services import user_erase

    context = launch_instructor(client, served_platform, course)
    teacher = context.instructors.get()
    counts = user_erase(user=teacher, by=factories.administrator(), reason="asked to be forgotten")
    assert counts["lti"]["platform_courses_taught"] == 1
    assert not context.instructors.exists()


def test_a_pull_whose_task_was_lost_does_not_block_the_next_one(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any
) -> None:
    context = launch_instructor(client, served_platform, course)
    served_platform.members = roster(2)
    lost = RosterPull.objects.create(context=context, state=RosterPullState.RUNNING)
    page = client.get(COURSES).content.decode()
    assert "Reading the roster" in page and "data-lti-roster-running" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/en/lti/courses/{context.pk}/pull/")
    assert RosterPull.objects.count() == 1  # still within its time: pressing again does not start a second one
    RosterPull.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    page = pull(client, context, django_capture_on_commit_callbacks)
    assert "2 added" in page
    lost.refresh_from_db()
    assert lost.state == RosterPullState.FAILED and lost.error == "The pull did not finish in time."
