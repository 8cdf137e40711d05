"""Each learning event queues its xAPI statement (docs/xapi.md) in the transaction that writes it: enrolled, completed
a lesson, scored a quiz, asked a question, attended a live session (time present, where from), earned a certificate.
A write that rolls back queues nothing, and without an LRS configured nothing is queued at all."""

from typing import Any

import pytest
from django.conf import settings
from django.db import transaction

from certificates import services as certificate_services
from classrooms.services import attendance, qa
from classrooms.services.sessions import session_end
from courses import services as course_services
from courses.models import LessonPage
from lms.xapi import builders
from lms.xapi.models import QueuedStatement, StatementState
from tests import factories
from tests.classrooms.attendance_setup import a_class, at
from tests.courses.test_quiz_attempts import answers, lesson_with_quiz
from tests.support.certificates import course_with_rule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lrs_configured")]

SITE = settings.CORRIDOR_PUBLIC_URL.rstrip("/")


def queued(verb: builders.Verb) -> list[dict[str, Any]]:
    return [row.statement for row in QueuedStatement.objects.filter(statement__verb__id=verb.value)]


def only(verb: builders.Verb) -> dict[str, Any]:
    statements = queued(verb)
    assert len(statements) == 1, statements
    return statements[0]


def test_enrolling_queues_registered_with_the_course_once() -> None:
    course = factories.course_with_lessons(factories.site_catalogue(), title="Hybrid classroom fundamentals")
    trainee = factories.trainee()
    course_services.enrolment_create(user=trainee, course=course)
    course_services.enrolment_create(user=trainee, course=course)  # again: the same enrolment, no new statement

    statement = only(builders.Verb.REGISTERED)
    assert statement["actor"] == {"objectType": "Agent", "account": {"homePage": SITE, "name": str(trainee.pk)}}
    assert statement["object"]["id"] == f"{SITE}/xapi/activities/course/{course.translation_key}"
    assert statement["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
    assert statement["object"]["definition"]["name"]["en"] == "Hybrid classroom fundamentals"
    assert statement["version"] == "1.0.3" and statement["verb"]["display"] == {"en-US": "registered"}
    row = QueuedStatement.objects.get()
    assert str(row.id) == statement["id"] and row.state == StatementState.QUEUED and row.attempts == 0


def test_completing_a_lesson_queues_completed_once_under_its_course() -> None:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    lesson = LessonPage.objects.live().descendant_of(course).get()
    trainee = factories.trainee()
    course_services.enrolment_create(user=trainee, course=course)
    course_services.lesson_complete(user=trainee, lesson=lesson)
    course_services.lesson_complete(user=trainee, lesson=lesson)

    statement = only(builders.Verb.COMPLETED)
    assert statement["object"]["id"] == f"{SITE}/xapi/activities/lesson/{lesson.translation_key}"
    assert statement["result"] == {"completion": True}
    parents = statement["context"]["contextActivities"]["parent"]
    assert [parent["id"] for parent in parents] == [f"{SITE}/xapi/activities/course/{course.translation_key}"]


def test_a_quiz_attempt_queues_scored_with_its_score_and_outcome(settings: Any) -> None:
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 5, 0
    lesson = lesson_with_quiz(factories.site_catalogue())
    trainee = factories.trainee()
    course_services.enrolment_create(user=trainee, course=lesson.get_parent().get_parent().specific)
    block_id, given = answers(lesson, right=1)
    first = course_services.quiz_submit(user=trainee, lesson=lesson, quiz_block_id=block_id, answers=given)
    block_id, given = answers(lesson, right=99)
    second = course_services.quiz_submit(user=trainee, lesson=lesson, quiz_block_id=block_id, answers=given)

    scored = sorted(queued(builders.Verb.SCORED), key=lambda s: s["result"]["score"]["raw"])
    assert [s["result"]["score"]["raw"] for s in scored] == [first.score, second.score]
    assert scored[1]["result"] == {
        "score": {"raw": second.max_score, "min": 0, "max": second.max_score, "scaled": 1.0},
        "success": True,
    }
    assert scored[0]["result"]["success"] is first.passed
    assert scored[0]["object"]["id"] == f"{SITE}/xapi/activities/quiz/{lesson.translation_key}/{block_id}"
    assert scored[0]["id"] != scored[1]["id"]  # two attempts, two statements


def test_asking_a_question_queues_asked_under_the_session_without_its_text() -> None:
    group = a_class(trainees=1, starts_at=None)
    question = qa.question_ask(session=group.session, user=group.trainee, text="Can Chongqing hear us?")

    statement = only(builders.Verb.ASKED)
    assert statement["object"]["id"] == f"{SITE}/xapi/activities/question/{question.pk}"
    parents = [parent["id"] for parent in statement["context"]["contextActivities"]["parent"]]
    assert parents[0] == f"{SITE}/xapi/activities/session/{group.session.pk}"
    assert "Chongqing hear" not in str(statement)


def test_ending_a_session_queues_attended_per_trainee_with_time_and_place() -> None:
    group = a_class(trainees=3)
    remote, in_room, absent = group.trainees
    attendance.remote_presence_start(session=group.session, user=remote, at=at(0))
    attendance.remote_presence_end(session=group.session, user=remote, at=at(30, 15))
    attendance.roster_mark(session=group.session, room=group.room, user=in_room, present=True, by=group.admin, at=at(5))
    assert not queued(builders.Verb.ATTENDED)  # nothing until the session ends

    session_end(session=group.session, by=group.instructor, now=at(60))

    by_actor = {int(s["actor"]["account"]["name"]): s for s in queued(builders.Verb.ATTENDED)}
    assert set(by_actor) == {remote.pk, in_room.pk}, "one per trainee who was there, none for the absent one"
    assert absent.pk not in by_actor
    place = f"{SITE}/xapi/extensions/place"
    assert by_actor[remote.pk]["result"] == {"duration": "PT30M15S"}
    assert by_actor[remote.pk]["context"]["extensions"][place] == [{"kind": "remote", "duration": "PT30M0S"}]
    assert by_actor[in_room.pk]["result"] == {"duration": "PT55M0S"}
    assert by_actor[in_room.pk]["context"]["extensions"][place] == [
        {"kind": "room", "duration": "PT55M0S", "room": group.room.name, "city": "singapore"}
    ]
    assert by_actor[remote.pk]["object"]["id"] == f"{SITE}/xapi/activities/session/{group.session.pk}"
    assert by_actor[remote.pk]["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/meeting"


def test_issuing_a_certificate_queues_earned() -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    certificate = certificate_services.certificate_issue(user=user, course=setup.course, by=setup.admin)

    statement = only(builders.Verb.EARNED)
    assert statement["verb"]["id"] == "http://id.tincanapi.com/verb/earned"
    assert statement["object"]["id"] == f"{SITE}/xapi/activities/certificate/{certificate.code}"
    assert statement["actor"]["account"]["name"] == str(user.pk)
    assert statement["context"]["contextActivities"]["parent"][0]["definition"]["name"]["en"] == "Cross-border Safety"


def test_a_write_that_rolls_back_queues_nothing() -> None:
    course = factories.course_with_lessons(factories.site_catalogue())
    trainee = factories.trainee()

    def enrol_then_fail() -> None:
        with transaction.atomic():
            course_services.enrolment_create(user=trainee, course=course)
            assert QueuedStatement.objects.count() == 1
            raise RuntimeError("the request failed after enrolling")

    with pytest.raises(RuntimeError):
        enrol_then_fail()
    assert QueuedStatement.objects.count() == 0


def test_without_an_lrs_nothing_is_queued(settings: Any) -> None:
    settings.XAPI_LRS_URL = ""
    course = factories.course_with_lessons(factories.site_catalogue())
    course_services.enrolment_create(user=factories.trainee(), course=course)
    assert QueuedStatement.objects.count() == 0


def test_the_same_event_always_gives_the_same_statement_id() -> None:
    course = builders.course_activity(course_key="k", title_en="A course")
    one = builders.course_enrolled(user_id=7, course=course, at=at(0))
    again = builders.course_enrolled(user_id=7, course=course, at=at(5))
    other = builders.course_enrolled(user_id=8, course=course, at=at(0))
    assert one["id"] == again["id"] != other["id"]


def test_the_internship_week_hook_builds_a_completed_statement() -> None:
    """Internships (built in parallel) queue this from the service that signs a week off."""
    statement = builders.internship_week_completed(
        placement_id=12, week=3, user_id=5, company="Marina Logistics", course=None, at=at(0)
    )
    assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"
    assert statement["object"]["id"] == f"{SITE}/xapi/activities/internship-week/12/3"
    assert statement["object"]["definition"]["type"] == f"{SITE}/xapi/activity-types/internship-week"


@pytest.mark.parametrize(("seconds", "duration"), [(0, "PT0S"), (59.6, "PT1M0S"), (3725, "PT1H2M5S"), (7200, "PT2H0S")])
def test_durations_are_iso_8601(seconds: float, duration: str) -> None:
    assert builders.iso_duration(seconds) == duration
