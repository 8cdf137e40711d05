"""An LTI 1.3 launch in Chromium, from a real platform implementation (lti1p3platform, served over HTTP by
tests/support/lti_platform.py) to Corridor: an administrator registers the partner's platform in the admin; a
trainee clicks Corridor in their Moodle course, the platform's launch form posts itself to Corridor, and they land
on the course page signed in and enrolled. A bad launch shows the refusal page and signs nobody in. An instructor
places a Corridor lesson in the platform course through deep linking."""

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from courses.models import Enrolment
from courses.selectors import course_lessons
from lms.accounts.models import User
from lti.models import Platform as PlatformRegistration
from lti.services import roster_pull_run
from tests import factories
from tests.factories import lti_platform_registration
from tests.support.browser import SignIn
from tests.support.lti_platform import INSTRUCTOR, LEARNER, LaunchPlan, Platform, PlatformServer, roster_member

pytestmark = pytest.mark.e2e


def register_in_the_admin(page: Page, live_server: Any, platform: Platform) -> None:
    page.goto(f"{live_server.url}/admin/snippets/lti/platform/add/")
    page.get_by_role("textbox", name="Name*", exact=True).fill("Polytechnic Moodle")
    page.get_by_role("textbox", name="Issuer*", exact=True).fill(platform.issuer)
    page.get_by_role("textbox", name="Client ID*", exact=True).fill(platform.client_id)
    page.get_by_role("textbox", name="Deployment IDs*", exact=True).fill(platform.deployment_id)
    page.get_by_role("textbox", name="Authentication request URL*", exact=True).fill(f"{platform.base_url}/auth")
    page.get_by_role("textbox", name="Access token URL*", exact=True).fill(f"{platform.base_url}/token")
    page.get_by_role("textbox", name="Key set URL", exact=True).fill(f"{platform.base_url}/jwks")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("'Polytechnic Moodle' created.")).to_be_visible()


def test_a_trainee_launched_from_moodle_lands_on_the_course_signed_in_and_enrolled(
    live_server: Any, site_catalogue: Any, sign_in: SignIn, new_page: Any
) -> None:
    course = factories.course_with_lessons(site_catalogue, title="Applied Python")
    platform = Platform(tool_base_url=live_server.url)
    platform.plan = LaunchPlan(custom={"course": course.slug})
    with PlatformServer(platform):
        admin_page = sign_in(factories.administrator())
        register_in_the_admin(admin_page, live_server, platform)
        assert PlatformRegistration.objects.get().key_set_url == f"{platform.base_url}/jwks"

        page = new_page()
        page.goto(f"{platform.base_url}/course")
        started = time.perf_counter()
        page.get_by_role("link", name="Corridor", exact=True).click()
        page.wait_for_url(f"{live_server.url}{course.url}")
        print(f'{{"lti_launch_in_browser_seconds": {time.perf_counter() - started:.3f}}}')
        expect(page.get_by_role("heading", name="Applied Python", level=1)).to_be_visible()
        expect(page.get_by_text("You are enrolled")).to_be_visible()
        trainee = User.objects.get(email="weiling.tan@poly.example.sg")
        assert Enrolment.objects.filter(user=trainee, course_key=course.translation_key).exists()

        # The platform signs with another key now: the launch is refused, and nobody new is signed in or enrolled.
        platform.plan = LaunchPlan(custom={"course": course.slug}, sub="moodle-user-2", email="other@poly.example.sg")
        platform.sign_with_another_key()
        stranger = new_page()
        stranger.goto(f"{platform.base_url}/course")
        stranger.get_by_role("link", name="Corridor", exact=True).click()
        expect(stranger.get_by_role("heading", name="Corridor could not open this launch")).to_be_visible()
        expect(stranger.get_by_text("signature does not match")).to_be_visible()
        assert not User.objects.filter(email="other@poly.example.sg").exists()
        assert Enrolment.objects.count() == 1


def test_an_instructor_places_a_corridor_lesson_in_the_platform_course(
    live_server: Any, site_catalogue: Any, new_page: Any
) -> None:
    course = factories.course_with_lessons(site_catalogue, title="Applied Python", modules=1, lessons=1)
    lesson = course_lessons(course).get()
    platform = Platform(tool_base_url=live_server.url)
    platform.plan = LaunchPlan(roles=[INSTRUCTOR], sub="teacher-1", email="teacher@poly.example.sg")
    with PlatformServer(platform):
        lti_platform_registration(platform)
        page = new_page()
        page.goto(f"{platform.base_url}/course")
        page.get_by_role("link", name="Add a Corridor activity").click()
        expect(page.get_by_role("heading", name="Place Corridor content in your course")).to_be_visible()
        page.get_by_label(f"Lesson: {lesson.title}").check()
        page.get_by_role("button", name="Place it in my course").click()
        # Corridor's page posts the signed choice to the platform, which checks it against Corridor's key set.
        expect(page.get_by_role("heading", name="Placed in Applied Python (Moodle)")).to_be_visible()
        expect(page.get_by_text(lesson.title)).to_be_visible()
        assert platform.placed[0]["custom"] == {"lesson": str(lesson.pk)}


def test_an_instructor_launched_from_moodle_pulls_the_roster_into_a_cohort(
    live_server: Any, site_catalogue: Any, new_page: Any, tasks_in_process: None, monkeypatch: Any
) -> None:
    course = factories.course_with_lessons(site_catalogue, title="Applied Python")
    platform = Platform(tool_base_url=live_server.url)
    platform.plan = LaunchPlan(
        roles=[INSTRUCTOR], sub="teacher-1", email="teacher@poly.example.sg", custom={"course": course.slug}, nrps=True
    )
    platform.members = [
        roster_member("teacher-1", name="Tan Mei", email="teacher@poly.example.sg", roles=[INSTRUCTOR]),
        roster_member("learner-1", name="Lim Jun", email="jun.lim@poly.example.sg", roles=[LEARNER]),
        roster_member("learner-2", name="Chen Yu", email=None, roles=[LEARNER]),
    ]
    with PlatformServer(platform):
        lti_platform_registration(platform)
        page = new_page()
        page.goto(f"{platform.base_url}/course")
        page.get_by_role("link", name="Corridor", exact=True).click()
        page.wait_for_url(f"{live_server.url}{course.url}")
        page.get_by_role("link", name="Platform courses").click()
        expect(page.get_by_role("heading", name="Applied Python (Moodle)")).to_be_visible()
        page.get_by_role("button", name="Pull the roster into a cohort").click()
        expect(page.get_by_text("2 added, 0 already there, 1 staff skipped, 0 inactive skipped")).to_be_visible()
        expect(page.get_by_text("Applied Python (Moodle) (2 members)")).to_be_visible()
        learner = User.objects.get(email="jun.lim@poly.example.sg")
        assert Enrolment.objects.filter(user=learner, course_key=course.translation_key).exists()
        assert learner.cohorts.get().name == "Applied Python (Moodle)"

        # With a worker, the page says the pull is waiting and looks again by itself until the task has run.
        queued: list[int] = []
        monkeypatch.setattr("lti.tasks.pull_roster.delay", lambda pull_id: queued.append(pull_id))
        platform.members.append(
            roster_member("learner-3", name="Wong Li", email="li.wong@poly.example.sg", roles=[LEARNER])
        )
        page.get_by_role("button", name="Pull the roster into a cohort").click()
        expect(page.get_by_text("Waiting…")).to_be_visible()
        roster_pull_run(pull_id=queued[0])
        expect(page.get_by_text("1 added, 2 already there, 1 staff skipped, 0 inactive skipped")).to_be_visible()
        expect(page.get_by_text("Applied Python (Moodle) (3 members)")).to_be_visible()
