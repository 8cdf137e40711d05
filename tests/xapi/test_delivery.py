"""Delivery to a real LRS (Ralph, run as a process): statements arrive in batches and read back through its xAPI
GET API; an LRS that is down or refuses loses nothing (retried later, with backoff); a statement is stored once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from courses import services as course_services
from courses.models import LessonPage
from lms.xapi import builders, services
from lms.xapi.models import QueuedStatement, StatementState
from lms.xapi.tasks import send_xapi_statements
from tests import factories
from tests.support.ralph import PASSWORD, Ralph

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def enrolled(user_id: int, course_key: str = "course-1") -> dict[str, Any]:
    course = builders.course_activity(course_key=course_key, title_en="Hybrid classroom fundamentals")
    return builders.course_enrolled(user_id=user_id, course=course, at=T0)


def queue(*statements: dict[str, Any], now: datetime = T0) -> list[str]:
    for statement in statements:
        services.xapi_statement_queue(statement=statement, now=now)
    return [statement["id"] for statement in statements]


def ids_in(ralph: Ralph) -> list[str]:
    return sorted(statement["id"] for statement in ralph.statements())


def test_learning_events_reach_ralph_and_read_back(ralph: Ralph) -> None:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1, title="Safety")
    lesson = LessonPage.objects.live().descendant_of(course).get()
    trainee = factories.trainee()
    course_services.enrolment_create(user=trainee, course=course)
    course_services.lesson_complete(user=trainee, lesson=lesson)

    assert send_xapi_statements.delay().get() == 2

    stored = {statement["verb"]["id"]: statement for statement in ralph.statements()}
    assert set(stored) == {builders.Verb.REGISTERED.value, builders.Verb.COMPLETED.value}
    registered = stored[builders.Verb.REGISTERED.value]
    assert registered["actor"]["account"]["name"] == str(trainee.pk)
    assert registered["object"]["id"].endswith(f"/xapi/activities/course/{course.translation_key}")
    assert registered["object"]["definition"]["name"]["en"] == "Safety"
    completed = ralph.statement(stored[builders.Verb.COMPLETED.value]["id"])
    assert completed["object"]["id"].endswith(f"/xapi/activities/lesson/{lesson.translation_key}")
    assert completed["result"]["completion"] is True
    assert set(QueuedStatement.objects.values_list("state", flat=True)) == {StatementState.SENT}
    assert all(row.sent_at is not None for row in QueuedStatement.objects.all())


def test_statements_go_in_batches_of_the_configured_size(ralph: Ralph, settings: Any, monkeypatch: Any) -> None:
    settings.XAPI_BATCH_SIZE = 3
    posted: list[int] = []
    post = services.lrs_post_statements

    def counting_post(statements: list[dict[str, Any]]) -> int:
        posted.append(len(statements))
        return post(statements)

    monkeypatch.setattr(services, "lrs_post_statements", counting_post)
    ids = queue(*(enrolled(user_id) for user_id in range(1, 8)))

    outcome = services.xapi_statements_send(now=T0)

    assert (outcome.sent, outcome.failed) == (7, 0)
    assert posted == [3, 3, 1]
    assert ids_in(ralph) == sorted(ids)


def test_an_lrs_that_is_down_loses_nothing_and_is_tried_again_later_with_backoff(ralph: Ralph) -> None:
    ralph.stop()
    ids = queue(enrolled(1), enrolled(2))

    first = services.xapi_statements_send(now=T0)

    assert (first.sent, first.failed) == (0, 2)
    rows = list(QueuedStatement.objects.all())
    assert {row.state for row in rows} == {StatementState.FAILING}
    assert all("LRS unreachable" in row.last_error and row.attempts == 1 for row in rows)
    assert {row.next_attempt_at for row in rows} == {T0 + timedelta(minutes=1)}
    # Not due yet: nothing is tried.
    assert services.xapi_statements_send(now=T0 + timedelta(seconds=30)).claimed == 0
    # Still down at the next attempt: the wait doubles.
    services.xapi_statements_send(now=T0 + timedelta(minutes=1))
    assert {row.next_attempt_at for row in QueuedStatement.objects.all()} == {T0 + timedelta(minutes=3)}
    assert {row.attempts for row in QueuedStatement.objects.all()} == {2}

    ralph.start()
    again = services.xapi_statements_send(now=T0 + timedelta(minutes=3))

    assert (again.sent, again.failed) == (2, 0)
    assert ids_in(ralph) == sorted(ids)
    assert set(QueuedStatement.objects.values_list("state", "last_error")) == {(StatementState.SENT, "")}


def test_an_lrs_refusing_the_credentials_loses_nothing(ralph: Ralph, settings: Any) -> None:
    settings.XAPI_LRS_PASSWORD = "not-the-password"
    ids = queue(enrolled(1))
    assert services.xapi_statements_send(now=T0).failed == 1
    row = QueuedStatement.objects.get()
    assert row.state == StatementState.FAILING and row.last_error.startswith("HTTP 401")
    assert ralph.statements() == []

    settings.XAPI_LRS_PASSWORD = PASSWORD
    assert services.xapi_statements_send(now=T0 + timedelta(minutes=1)).sent == 1
    assert ids_in(ralph) == ids


def test_a_statement_is_stored_once_however_often_it_is_queued_or_sent(ralph: Ralph) -> None:
    statement = enrolled(1)
    queue(statement)
    queue(enrolled(1))  # the same event reported again: the same id, the same row
    assert QueuedStatement.objects.count() == 1
    assert services.xapi_statements_send(now=T0).sent == 1

    # A worker that died after the POST but before marking it sent: the statement goes again.
    QueuedStatement.objects.update(state=StatementState.QUEUED, sent_at=None)
    again = services.xapi_statements_send(now=T0)

    assert (again.sent, again.failed) == (1, 0), "the LRS already had it: that counts as sent"
    assert ids_in(ralph) == [statement["id"]]


def test_a_statement_the_lrs_refuses_does_not_hold_back_the_others(ralph: Ralph) -> None:
    good = queue(enrolled(1), enrolled(2))
    broken = enrolled(3)
    broken["actor"] = {"objectType": "Agent", "name": "no identifier at all"}
    queue(broken, now=T0 - timedelta(seconds=1))  # first in the batch

    outcome = services.xapi_statements_send(now=T0)

    assert (outcome.sent, outcome.failed) == (2, 1)
    assert ids_in(ralph) == sorted(good)
    refused = QueuedStatement.objects.get(pk=broken["id"])
    assert refused.state == StatementState.FAILING and refused.last_error.startswith(("HTTP 400", "HTTP 422"))


def test_without_an_lrs_the_task_sends_nothing(settings: Any) -> None:
    settings.XAPI_LRS_URL = ""
    QueuedStatement.objects.create(id=enrolled(1)["id"], statement=enrolled(1), verb="registered", next_attempt_at=T0)
    assert send_xapi_statements.delay().get() == 0
    assert QueuedStatement.objects.get().state == StatementState.QUEUED


def test_beat_sends_statements_every_thirty_seconds(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["send-xapi-statements"]
    assert entry["task"] == send_xapi_statements.name and entry["schedule"] == timedelta(seconds=30)


def test_an_lrs_answering_conflict_for_a_stored_id_counts_it_as_sent(ralph: Ralph) -> None:
    """Ralph answers 409 when it holds a statement with this id and other content (here: a statement rebuilt later
    with another timestamp): the LRS has that statement, so it is not sent again and again."""
    [statement_id] = queue(enrolled(1))
    assert services.xapi_statements_send(now=T0).sent == 1
    row = QueuedStatement.objects.get()
    row.statement = {**row.statement, "timestamp": (T0 + timedelta(hours=1)).isoformat()}
    row.state = StatementState.QUEUED
    row.save()

    outcome = services.xapi_statements_send(now=T0)

    assert (outcome.sent, outcome.failed) == (1, 0)
    assert QueuedStatement.objects.get().state == StatementState.SENT
    assert ids_in(ralph) == [statement_id]
