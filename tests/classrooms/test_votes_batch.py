"""Votes written in batches: one transaction for many users, the same rules as one at a time."""

import threading
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction

from classrooms.models import Question, QuestionVote, SessionState
from classrooms.services import qa
from classrooms.services.qa import VoteRequest
from lms.errors import CorridorError
from tests import factories
from tests.classrooms.factories import enrol

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_batch_applies_votes_in_order_and_recounts(live: Any) -> None:
    first = qa.question_ask(session=live.session, user=live.trainee, text="First?")
    second = qa.question_ask(session=live.session, user=live.trainee, text="Second?")
    others = [factories.trainee() for _ in range(3)]
    for trainee in others:
        enrol(trainee, live.course)
    batch = [VoteRequest(t.pk, first.pk, True) for t in others]
    batch += [
        VoteRequest(others[0].pk, first.pk, True),  # again: changes nothing
        VoteRequest(others[1].pk, second.pk, True),
        VoteRequest(others[1].pk, second.pk, False),  # taken back in the same batch: nets to nothing
        VoteRequest(others[2].pk, 999_999, True),
    ]

    outcomes = qa.question_votes_apply(session_id=live.session.pk, votes=batch)

    assert [o.changed for o in outcomes[:6] if not isinstance(o, Exception)] == [True, True, True, False, True, True]
    assert isinstance(outcomes[6], CorridorError)
    assert outcomes[6].code == "question_not_found"
    assert Question.objects.get(pk=first.pk).vote_count == 3
    assert Question.objects.get(pk=second.pk).vote_count == 0
    assert QuestionVote.objects.count() == 3

    # Taking votes back in a later batch recounts from the votes themselves.
    outcomes = qa.question_votes_apply(session_id=live.session.pk, votes=[VoteRequest(others[0].pk, first.pk, False)])
    assert not isinstance(outcomes[0], Exception)
    assert outcomes[0].question.vote_count == 2


def test_a_hidden_question_or_an_ended_session_refuses_each_vote_of_the_batch(live: Any) -> None:
    question = qa.question_ask(session=live.session, user=live.trainee, text="Off topic")
    qa.question_moderate(session=live.session, user=live.instructor, question_id=question.pk, action="hide")
    [hidden] = qa.question_votes_apply(
        session_id=live.session.pk, votes=[VoteRequest(live.trainee.pk, question.pk, True)]
    )
    assert isinstance(hidden, CorridorError)
    assert hidden.code == "question_hidden"

    live.session.state = SessionState.ENDED
    live.session.save()
    votes = [VoteRequest(live.trainee.pk, question.pk, True), VoteRequest(live.instructor.pk, question.pk, True)]
    outcomes = qa.question_votes_apply(session_id=live.session.pk, votes=votes)
    assert all(isinstance(o, CorridorError) and o.code == "session_ended" for o in outcomes)
    assert QuestionVote.objects.count() == 0


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (SQLite serialises the whole database)",
)
def test_two_processes_voting_at_once_lose_no_count(live: Any) -> None:
    """Two app processes apply batches on the same question at once: the second waits for the first to commit and
    then counts its votes too (a recount from the first statement's snapshot would miss them)."""
    question = qa.question_ask(session=live.session, user=live.trainee, text="Both rooms?")
    first_voter, second_voter = factories.trainee(), factories.trainee()
    for trainee in (first_voter, second_voter):
        enrol(trainee, live.course)
    first_applied, release_first = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:  # a batch that has applied its vote and not committed yet
        try:
            with transaction.atomic():
                qa.question_votes_apply(
                    session_id=live.session.pk, votes=[VoteRequest(first_voter.pk, question.pk, True)]
                )
                first_applied.set()
                release_first.wait(30)
        except BaseException as failure:  # reported by the main thread
            failures.append(failure)
            first_applied.set()
        finally:
            connections.close_all()

    def second() -> None:
        try:
            qa.question_votes_apply(session_id=live.session.pk, votes=[VoteRequest(second_voter.pk, question.pk, True)])
        except BaseException as failure:  # reported by the main thread
            failures.append(failure)
        finally:
            connections.close_all()

    holder = threading.Thread(target=first)
    holder.start()
    assert first_applied.wait(30)
    waiter = threading.Thread(target=second)
    waiter.start()
    # The second batch is waiting on the first's lock before the first commits.
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
    release_first.set()
    holder.join(30)
    waiter.join(30)
    assert not failures
    assert QuestionVote.objects.filter(question=question).count() == 2
    assert Question.objects.get(pk=question.pk).vote_count == 2
