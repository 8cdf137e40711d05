"""Exams' xAPI event (docs/xapi.md): when an administrator releases a sitting's results, each candidate "scored" the
exam (raw, max, scaled, passed), queued in the releasing transaction, once; nothing before release; the statement
reaches a real LRS (Ralph)."""

from typing import Any

import pytest
from django.conf import settings

from exams import marking
from lms.xapi import builders
from lms.xapi.models import QueuedStatement
from lms.xapi.services import xapi_statements_send
from tests import factories
from tests.support.ralph import Ralph

pytestmark = pytest.mark.django_db

SITE = settings.CORRIDOR_PUBLIC_URL.rstrip("/")


def marked_sitting() -> tuple[Any, Any, Any]:
    exam = factories.marked_exam(pass_mark=50)
    trainee = factories.trainee()
    sitting = factories.past_sitting(exam=exam, candidates=[trainee])
    paper = factories.submit_paper_as_candidate(
        candidate=sitting.candidates.get(),
        answers={"First single?": ["a"], "Pick two?": ["a", "c"], "Plan a hybrid class.": "A plan."},
    )
    marker = factories.exam_marker(exam)
    marking.mark_record(answer_id=paper.answers.get(question__kind="essay").pk, by=marker, stage="first", marks=5)
    return exam, sitting, paper


def scored() -> list[dict[str, Any]]:
    return [row.statement for row in QueuedStatement.objects.filter(statement__verb__id=builders.Verb.SCORED.value)]


@pytest.mark.usefixtures("lrs_configured")
def test_releasing_results_queues_scored_for_each_candidate_once() -> None:
    exam, sitting, paper = marked_sitting()
    assert scored() == []  # marked is not released
    marking.results_release(sitting=sitting, by=factories.administrator())
    [statement] = scored()
    assert statement["actor"]["account"] == {"homePage": SITE, "name": str(paper.candidate.user_id)}
    assert statement["object"]["id"] == f"{SITE}/xapi/activities/exam/{exam.code}"
    assert statement["object"]["definition"]["type"] == builders.ActivityType.ASSESSMENT.value
    assert statement["result"] == {"score": {"raw": 9, "min": 0, "max": 16, "scaled": 0.5625}, "success": True}
    parents = statement["context"]["contextActivities"]["parent"]
    assert [parent["id"] for parent in parents] == [f"{SITE}/xapi/activities/exam-sitting/{sitting.pk}"]
    assert statement["id"] == str(builders.statement_id(builders.Verb.SCORED, f"exam-paper:{paper.pk}"))


def test_without_an_lrs_nothing_is_queued() -> None:
    _exam, sitting, _paper = marked_sitting()
    marking.results_release(sitting=sitting, by=factories.administrator())
    assert not QueuedStatement.objects.exists()


def test_the_exam_statement_reaches_ralph(ralph: Ralph) -> None:
    exam, sitting, paper = marked_sitting()
    marking.results_release(sitting=sitting, by=factories.administrator())
    assert xapi_statements_send().sent == 1
    [stored] = [s for s in ralph.statements() if s["verb"]["id"] == builders.Verb.SCORED.value]
    assert stored["object"]["id"] == f"{SITE}/xapi/activities/exam/{exam.code}"
    assert stored["result"]["score"]["raw"] == 9 and stored["result"]["success"] is True
    assert stored["actor"]["account"]["name"] == str(paper.candidate.user_id)
