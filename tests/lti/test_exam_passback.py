"""Exam results posted back as scores (issue 17): a learner who launched the exam's preparatory course from their
platform (a course-wide line item) sits the exam; when an administrator releases the results, the exam score reaches
the platform's line item (lti1p3platform's score service, over HTTP), once."""

from typing import Any

import pytest
from django.test import Client

from exams import marking
from lms.accounts.models import User
from lti.models import ScoreDelivery, ScoreDeliveryState
from lti.tasks import collect_scores
from tests import factories
from tests.factories import lti_platform_registration
from tests.support.lti_platform import LaunchPlan, Platform, PlatformServer, launch_with_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]

TOOL = "http://testserver"


@pytest.fixture
def served_platform(client: Client) -> Any:
    platform = Platform(tool_base_url=TOOL)
    with PlatformServer(platform):
        lti_platform_registration(platform)
        platform.tool_jwks = client.get("/lti/jwks/").json()
        yield platform


def test_a_released_exam_result_reaches_the_line_item_of_the_preparatory_course_once(
    client: Client, served_platform: Platform, catalogue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    course = factories.CourseFactory.create(parent=catalogue, kind="preparatory")
    exam = factories.marked_exam()
    exam.preparatory_courses.add(course)
    served_platform.plan = LaunchPlan(custom={"course": str(course.pk)}, ags=True)
    response, _ = launch_with_client(client, served_platform)
    assert response.status_code == 302
    learner = User.objects.get(lti_accounts__sub="moodle-user-1")
    other = factories.trainee()  # sat the same exam without a launch: nothing is posted for them
    sitting = factories.past_sitting(exam=exam, candidates=[learner, other])
    papers = {
        candidate.user_id: factories.submit_paper_as_candidate(
            candidate=candidate,
            answers={"First single?": ["a"], "Second single?": ["a"], "Plan a hybrid class.": "Rooms and roles."},
        )
        for candidate in sitting.candidates.all()
    }
    marker = factories.exam_marker(exam)
    for paper in papers.values():
        essay = paper.answers.get(question__kind="essay")
        marking.mark_record(answer_id=essay.pk, by=marker, stage="first", marks=8)
    assert served_platform.scores == []  # marked, not released: nothing leaves Corridor
    with django_capture_on_commit_callbacks(execute=True):
        marking.results_release(sitting=sitting, by=factories.administrator())
    [score] = served_platform.scores
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (12, 16, "moodle-user-1")
    delivery = ScoreDelivery.objects.get()
    assert delivery.source == f"exam-paper:{papers[learner.pk].pk}"
    assert delivery.state == ScoreDeliveryState.DELIVERED
    with django_capture_on_commit_callbacks(execute=True):
        collect_scores.delay().get()
    assert len(served_platform.scores) == 1
