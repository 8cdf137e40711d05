"""Deep linking: a platform instructor picks a Corridor course, lesson or live session; Corridor signs the choice and
the platform (lti1p3platform) verifies it against Corridor's published keys and places the link; a learner who then
follows that link lands on the content."""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from courses.selectors import course_lessons
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from tests import factories
from tests.classrooms.factories import LiveSessionFactory
from tests.factories import lti_platform_registration
from tests.support.lti_platform import INSTRUCTOR, LaunchPlan, Platform, hidden_inputs, launch_with_client

pytestmark = pytest.mark.django_db

TOOL = "http://testserver"


@pytest.fixture
def platform() -> Platform:
    platform = Platform(tool_base_url=TOOL)
    lti_platform_registration(platform)
    return platform


def instructor_picks(client: Client, platform: Platform, value: str) -> list[dict]:
    platform.plan = LaunchPlan(deep_link=True, roles=[INSTRUCTOR], sub="teacher-1", email="teacher@poly.example.sg")
    response, _ = launch_with_client(client, platform)
    assert response.status_code == 302, response.content.decode()[:500]
    picker = client.get(response["Location"])
    assert picker.status_code == 200
    assert value in picker.content.decode()
    answer = client.post(response["Location"], {"choice": value})
    assert answer.status_code == 200
    page = answer.content.decode()
    assert f'action="{platform.deep_link_return_url}"' in page
    assert platform.deep_link_return_url in answer["Content-Security-Policy"]
    return platform.receive_deep_link(hidden_inputs(page)["JWT"], tool_jwks=client.get("/lti/jwks/").json())


def test_an_instructor_places_a_lesson_and_a_learner_follows_it(client: Client, platform, course) -> None:
    lesson = course_lessons(course)[0]
    [item] = instructor_picks(client, platform, f"lesson:{lesson.pk}")
    assert item["type"] == "ltiResourceLink"
    assert item["title"] == lesson.title
    assert item["url"] == f"{TOOL}/lti/launch/"
    assert Role.INSTRUCTOR in user_roles(User.objects.get(email="teacher@poly.example.sg"))
    # A learner follows the placed link: the platform launches with the item's custom parameters.
    platform.plan = LaunchPlan(custom=item["custom"])
    response, _ = launch_with_client(Client(), platform)
    assert response["Location"] == lesson.url


def test_an_instructor_places_a_course_or_a_live_session(client: Client, platform, course) -> None:
    [item] = instructor_picks(client, platform, f"course:{course.pk}")
    assert item["custom"] == {"course": course.slug}
    session = LiveSessionFactory.create(course=course, instructor=factories.instructor(), title="Week 1 live")
    [item] = instructor_picks(Client(), platform, f"session:{session.pk}")
    assert item["title"] == "Week 1 live"
    assert item["custom"] == {"session": str(session.pk)}


def test_a_learner_cannot_deep_link(client: Client, platform, course) -> None:
    platform.plan = LaunchPlan(deep_link=True, sub="learner-1", email="learner@poly.example.sg")
    response, _ = launch_with_client(client, platform)
    assert response.status_code == 400
    assert "Only an instructor" in response.content.decode()
    assert not User.objects.filter(email="learner@poly.example.sg").exists()


def test_the_picker_is_only_for_the_browser_it_was_opened_in(client: Client, platform, course) -> None:
    platform.plan = LaunchPlan(deep_link=True, roles=[INSTRUCTOR], sub="teacher-1", email="teacher@poly.example.sg")
    response, _ = launch_with_client(client, platform)
    picker = urlsplit(response["Location"]).path
    other = Client()
    other.force_login(factories.instructor())
    # (A 404 outside the language prefix is sent on to the /en/ address first: follow it.)
    assert other.get(picker, follow=True).status_code == 404
    assert other.post(picker, {"choice": f"course:{course.pk}"}, follow=True).status_code == 404
    # Once answered, the request cannot be answered again.
    assert client.post(picker, {"choice": f"course:{course.pk}"}).status_code == 200
    assert client.post(picker, {"choice": f"course:{course.pk}"}, follow=True).status_code == 404


def test_a_choice_that_does_not_exist_is_refused_on_the_page(client: Client, platform, course) -> None:
    platform.plan = LaunchPlan(deep_link=True, roles=[INSTRUCTOR], sub="teacher-1", email="teacher@poly.example.sg")
    response, _ = launch_with_client(client, platform)
    refused = client.post(response["Location"], {"choice": "course:999999"})
    assert refused.status_code == 400
    assert "Choose a course, lesson or live session." in refused.content.decode()
