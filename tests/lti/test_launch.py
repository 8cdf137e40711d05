"""LTI 1.3 launches from a real platform implementation (lti1p3platform, tests/support/lti_platform.py) through
Django's test client: a good launch signs the person in, enrolled, on the linked course or live session; bad ones are
refused with a page that says why, and change nothing."""

import base64
import json
import statistics
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from courses.models import Enrolment
from courses.services import enrolment_create
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from lti.models import Platform as PlatformRegistration
from lti.models import PlatformAccount, UsedNonce
from tests import factories
from tests.classrooms.factories import LiveSessionFactory
from tests.factories import lti_platform_registration
from tests.support.lti_platform import INSTRUCTOR, LaunchPlan, Platform, launch_with_client

pytestmark = pytest.mark.django_db

TOOL = "http://testserver"


@pytest.fixture
def platform() -> Platform:
    return Platform(tool_base_url=TOOL)


@pytest.fixture
def registration(platform: Platform) -> PlatformRegistration:
    return lti_platform_registration(platform)


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "enrolments": Enrolment.objects.count(),
        "accounts": PlatformAccount.objects.count(),
        "nonces": UsedNonce.objects.count(),
    }


def assert_refused(response: Any, reason: str) -> None:
    page = response.content.decode()
    assert response.status_code == 400, page[:300]
    assert "Corridor could not open this launch" in page
    assert reason in page, page


def test_a_learner_lands_on_the_course_signed_in_and_enrolled(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    response, _ = launch_with_client(client, platform)
    assert response.status_code == 302
    assert response["Location"] == course.url
    user = User.objects.get(email="weiling.tan@poly.example.sg")
    assert user.first_name == "Wei Ling Tan"
    assert Role.TRAINEE in user_roles(user)
    assert Enrolment.objects.filter(user=user, course_key=course.translation_key).exists()
    assert PlatformAccount.objects.get(platform=registration, sub="moodle-user-1").user == user
    page = client.get(response["Location"]).content.decode()
    assert "You are enrolled" in page


def test_a_second_launch_matches_the_same_user_by_sub(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug}, email=None)
    launch_with_client(client, platform)
    launch_with_client(Client(), platform)
    assert PlatformAccount.objects.count() == 1
    assert User.objects.filter(lti_accounts__sub="moodle-user-1").count() == 1
    assert Enrolment.objects.count() == 1


def test_an_existing_trainee_is_matched_by_email(client: Client, platform, registration, course) -> None:
    trainee = factories.trainee(email="weiling.tan@poly.example.sg")
    platform.plan = LaunchPlan(custom={"course": str(course.pk)})
    response, _ = launch_with_client(client, platform)
    assert response.status_code == 302
    assert PlatformAccount.objects.get().user == trainee
    assert Enrolment.objects.filter(user=trainee).count() == 1


def test_an_administrator_account_is_not_taken_over_by_email(client: Client, platform, registration, course) -> None:
    factories.administrator(email="weiling.tan@poly.example.sg")
    platform.plan = LaunchPlan(custom={"course": course.slug})
    before = counts()
    response, _ = launch_with_client(client, platform)
    assert_refused(response, "A Corridor staff account uses this e-mail address")
    assert counts() == before
    assert "_auth_user_id" not in client.session


def test_an_instructor_becomes_an_instructor_and_is_not_enrolled(
    client: Client, platform, registration, course
) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug}, roles=[INSTRUCTOR], sub="teacher-9", email="t@p.sg")
    response, _ = launch_with_client(client, platform)
    assert response["Location"] == course.url
    teacher = User.objects.get(email="t@p.sg")
    assert Role.INSTRUCTOR in user_roles(teacher)
    assert not Enrolment.objects.filter(user=teacher).exists()


def test_the_target_link_uri_names_the_course(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(target_link_uri=f"{TOOL}{course.url}")
    response, _ = launch_with_client(client, platform)
    assert response["Location"] == course.url


def test_a_live_session_link_opens_the_session_page(client: Client, platform, registration, course) -> None:
    session = LiveSessionFactory.create(course=course, instructor=factories.instructor())
    platform.plan = LaunchPlan(custom={"session": str(session.pk)})
    response, _ = launch_with_client(client, platform)
    assert response["Location"] == f"/en/live/sessions/{session.pk}/"
    assert client.get(response["Location"]).status_code == 200


# Refusals: each says why, and leaves no user, account, enrolment or spent nonce behind. ----------------------------


def test_a_replayed_launch_is_refused(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    response, posted = launch_with_client(client, platform)
    assert response.status_code == 302
    before = counts()
    again = client.post("/lti/launch/", {"id_token": posted["id_token"], "state": posted["state"]})
    assert_refused(again, "already used")
    assert counts() == before


def test_a_wrong_issuer_is_refused(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    login_url = platform.login_initiation_url()
    platform.issuer = "https://evil.example.com"  # the id_token claims another issuer than the login did
    before = counts()
    answer = client.get(login_url.removeprefix(TOOL))
    posted = platform.authenticate(dict(parse_qsl(urlsplit(answer["Location"]).query)))
    response = client.post("/lti/launch/", {"id_token": posted["id_token"], "state": posted["state"]})
    assert_refused(response, "not registered with Corridor")
    assert counts() == before


def test_an_unregistered_issuer_cannot_even_log_in(client: Client, platform, registration) -> None:
    platform.issuer = "https://evil.example.com"
    response = client.get(platform.login_initiation_url().removeprefix(TOOL))
    assert_refused(response, "not registered with Corridor")


def test_an_expired_token_is_refused(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    platform.expires_in = -60
    before = counts()
    response, _ = launch_with_client(client, platform)
    assert_refused(response, "too old")
    assert counts() == before


def test_an_unknown_deployment_is_refused(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    platform.deployment_id = "deployment-nobody-registered"
    before = counts()
    response, _ = launch_with_client(client, platform)
    assert_refused(response, "deployment of Corridor in your learning platform is not registered")
    assert counts() == before


def test_a_bad_signature_is_refused(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    platform.sign_with_another_key()
    before = counts()
    response, _ = launch_with_client(client, platform)
    assert_refused(response, "signature does not match")
    assert counts() == before


def test_a_tampered_token_is_refused(client: Client, platform, registration, course) -> None:
    """A good signature over other claims: the attacker swaps in another person's `sub`."""
    platform.plan = LaunchPlan(custom={"course": course.slug})
    login_url = platform.login_initiation_url()
    answer = client.get(login_url.removeprefix(TOOL))
    posted = platform.authenticate(dict(parse_qsl(urlsplit(answer["Location"]).query)))
    header, body, signature = posted["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "someone-else"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    before = counts()
    response = client.post(
        "/lti/launch/", {"id_token": f"{header}.{forged_body}.{signature}", "state": posted["state"]}
    )
    assert_refused(response, "signature does not match")
    assert counts() == before


def test_a_launch_without_the_login_state_is_refused(platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": course.slug})
    _, posted = launch_with_client(Client(), platform)
    stranger = Client()  # another browser: it never started this launch
    before = counts()
    response = stranger.post("/lti/launch/", {"id_token": posted["id_token"], "state": posted["state"]})
    assert response.status_code == 400
    assert counts() == before


def test_a_full_course_refuses_the_launch_and_creates_no_user(
    client: Client, platform, registration, catalogue
) -> None:
    course = factories.course_with_lessons(catalogue, capacity=1)
    enrolment_create(user=factories.trainee(), course=course)
    platform.plan = LaunchPlan(custom={"course": course.slug})
    before = counts()
    response, _ = launch_with_client(client, platform)
    assert_refused(response, "This course is full")
    assert counts() == before


def test_a_link_to_no_course_is_refused(client: Client, platform, registration, course) -> None:
    platform.plan = LaunchPlan(custom={"course": "no-such-course"})
    before = counts()
    response, _ = launch_with_client(client, platform)
    assert_refused(response, "points to no Corridor course or live session")
    assert counts() == before


def test_what_a_launch_costs(platform, registration, course) -> None:
    """Corridor's time for a launch (its answer to the login initiation, then the launch: validation, new user,
    enrolment, sign-in) for ten new people, through the test client; printed as JSON for the README's note."""
    timings = []
    for number in range(10):
        platform.plan = LaunchPlan(custom={"course": course.slug}, sub=f"bench-{number}", email=f"b{number}@p.sg")
        response, posted = launch_with_client(Client(), platform)
        assert response.status_code == 302
        timings.append(posted["corridor_seconds"])
    median_ms = statistics.median(timings) * 1000
    print(json.dumps({"lti_launch_median_ms": round(median_ms, 1), "lti_launch_max_ms": round(max(timings) * 1000, 1)}))
    assert median_ms < 1000


def test_a_launched_persons_platform_link_is_in_their_export_and_goes_with_erasure(
    client: Client, platform, registration, course
) -> None:
    from lms.accounts.personal_data import personal_data_parts
    from lms.accounts.services import user_erase

    platform.plan = LaunchPlan(custom={"course": course.slug})
    launch_with_client(client, platform)
    person = User.objects.get(email="weiling.tan@poly.example.sg")
    exported = {part.name: part.export(person) for part in personal_data_parts()}
    [account] = exported["lti"]["platform_accounts"]
    assert (account["platform"], account["platform_user_id"]) == ("Polytechnic Moodle", "moodle-user-1")
    counts = user_erase(user=person, by=factories.administrator(), reason="asked to be forgotten")
    assert counts["lti"] == {"platform_accounts": 1, "grade_passbacks": 0, "platform_courses_taught": 0}
    assert not PlatformAccount.objects.exists()
