"""Assignment and Grade Services: a learner launched with a line item takes the lesson's quiz; the result is posted
to the platform (lti1p3platform's token endpoint and score service, over HTTP) by Celery, once; while the platform is
down the score waits, visible to administrators with the platform's answer, and goes out when it is back."""

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from classrooms.services.attendance import remote_presence_end, remote_presence_start
from classrooms.services.sessions import session_end
from courses.models import LessonPage
from lms.accounts.models import User
from lti.models import ScoreDelivery, ScoreDeliveryState, ScoreLink
from lti.tasks import collect_scores
from tests import factories
from tests.classrooms.factories import LiveSessionFactory
from tests.factories import lti_platform_registration
from tests.support.lti_platform import LaunchPlan, Platform, PlatformServer, launch_with_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]

TOOL = "http://testserver"


@pytest.fixture
def quiz_lesson(catalogue: Any) -> LessonPage:
    course = factories.CourseFactory.create(parent=catalogue)
    module = factories.ModuleFactory.create(parent=course)
    lesson = factories.LessonFactory.create(parent=module, body=[factories.quiz_block()])
    return LessonPage.objects.get(pk=lesson.pk)


@pytest.fixture
def served_platform(client: Client) -> Any:
    platform = Platform(tool_base_url=TOOL)
    with PlatformServer(platform):
        lti_platform_registration(platform)
        platform.tool_jwks = client.get("/lti/jwks/").json()
        yield platform


def take_the_quiz(client: Client, lesson: LessonPage, *, right: int) -> None:
    block = next(b for b in lesson.body if b.block_type == "quiz")
    data = {}
    for number, question in enumerate(block.value["questions"].bound_blocks):
        choices = question.value["choices"].bound_blocks
        chosen = next(c.id for c in choices if c.value["is_correct"] == (number < right))
        data[f"question-{question.id}"] = chosen
    data["next"] = lesson.url
    response = client.post(f"/en/learning/lessons/{lesson.pk}/quizzes/{block.id}/", data, follow=True)
    assert response.status_code == 200


def launch_learner(client: Client, platform: Platform, lesson: LessonPage) -> None:
    platform.plan = LaunchPlan(custom={"lesson": str(lesson.pk)}, ags=True)
    response, _ = launch_with_client(client, platform)
    assert response["Location"] == lesson.url


def collect(capture: Any) -> int:
    with capture(execute=True):
        return collect_scores.delay().get()


def test_a_quiz_result_reaches_the_platform_once(
    client: Client,
    served_platform: Platform,
    quiz_lesson: LessonPage,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.QUIZ_COOLDOWN_MINUTES = 0
    launch_learner(client, served_platform, quiz_lesson)
    link = ScoreLink.objects.get()
    assert link.lineitem_url == f"{served_platform.base_url}/lineitems/1"
    take_the_quiz(client, quiz_lesson, right=1)
    started = time.perf_counter()
    assert collect(django_capture_on_commit_callbacks) == 1
    # A passback: collection, the platform's token (Corridor's signed client assertion checked), the score.
    print(json.dumps({"lti_grade_passback_ms": round((time.perf_counter() - started) * 1000, 1)}))
    [score] = served_platform.scores
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (1, 2, "moodle-user-1")
    assert score["line_item_id"] == "1"
    assert ScoreDelivery.objects.get().state == ScoreDeliveryState.DELIVERED
    # Sent once: the next collection finds nothing new.
    assert collect(django_capture_on_commit_callbacks) == 0
    assert len(served_platform.scores) == 1
    take_the_quiz(client, quiz_lesson, right=2)
    collect(django_capture_on_commit_callbacks)
    assert [s["scoreGiven"] for s in served_platform.scores] == [1, 2]


def test_a_score_the_platform_refuses_waits_visible_to_administrators_and_goes_out_later(
    client: Client, served_platform: Platform, quiz_lesson: LessonPage, django_capture_on_commit_callbacks: Any
) -> None:
    launch_learner(client, served_platform, quiz_lesson)
    take_the_quiz(client, quiz_lesson, right=2)
    served_platform.down = True
    collect(django_capture_on_commit_callbacks)
    delivery = ScoreDelivery.objects.get()
    assert delivery.state == ScoreDeliveryState.FAILED
    assert delivery.attempts >= 1
    assert "503" in delivery.last_error
    assert served_platform.scores == []
    admin = Client()
    admin.force_login(factories.administrator())
    listing = admin.get("/admin/snippets/lti/scoredelivery/?state=failed").content.decode()
    assert f"quiz-attempt:{delivery.source.split(':')[1]}" in listing
    assert "Not delivered yet (retrying)" in listing
    served_platform.down = False
    collect(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.state == ScoreDeliveryState.DELIVERED
    assert [s["scoreGiven"] for s in served_platform.scores] == [2]


def test_a_live_sessions_attendance_percentage_is_posted_once_it_has_ended(
    client: Client, served_platform: Platform, course: Any, django_capture_on_commit_callbacks: Any
) -> None:
    session = LiveSessionFactory.create(
        course=course,
        instructor=factories.instructor(),
        starts_at=timezone.now() - timedelta(minutes=60),
        ends_at=timezone.now(),
    )
    served_platform.plan = LaunchPlan(custom={"session": str(session.pk)}, ags=True)
    response, _ = launch_with_client(client, served_platform)
    assert response.status_code == 302
    learner = User.objects.get(lti_accounts__sub="moodle-user-1")
    # Online for 45 of the 60 scheduled minutes.
    remote_presence_start(session=session, user=learner, at=session.starts_at, announce=False)
    remote_presence_end(session=session, user=learner, at=session.starts_at + timedelta(minutes=45), announce=False)
    assert collect(django_capture_on_commit_callbacks) == 0  # not before the session has ended
    session_end(session=session, by=None)
    assert collect(django_capture_on_commit_callbacks) == 1
    [score] = served_platform.scores
    assert (score["scoreGiven"], score["scoreMaximum"]) == (75.0, 100)
    assert collect(django_capture_on_commit_callbacks) == 0
