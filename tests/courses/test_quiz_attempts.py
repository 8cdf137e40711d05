"""Quiz and exam attempts: a limit and a wait between attempts (per quiz, with the site's defaults), the score that
counts is the last (or the first) attempt, never the best, and feedback never gives the answer key away."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from certificates import selectors as certificate_selectors
from courses.models import LessonPage, QuizAttempt
from courses.selectors import course_achievement
from tests import factories
from tests.courses.test_quiz import enrolled_client, quiz_ids, submit
from tests.support.certificates import course_with_rule

pytestmark = pytest.mark.django_db


def lesson_with_quiz(catalogue: Any, **rules: Any) -> LessonPage:
    name, block = factories.quiz_block()
    block = {**block, **rules}
    course = factories.CourseFactory.create(parent=catalogue)
    module = factories.ModuleFactory.create(parent=course)
    lesson = factories.LessonFactory.create(parent=module, body=[(name, block)])
    return LessonPage.objects.get(pk=lesson.pk)


def answers(lesson: LessonPage, *, right: int) -> tuple[str, dict[str, str]]:
    block_id, questions = quiz_ids(lesson)
    return block_id, {q: (r if n < right else w) for n, (q, r, w) in enumerate(questions)}


def test_past_the_sites_limit_a_submission_is_refused_and_nothing_is_stored(client: Client, catalogue, settings):
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 2, 0
    lesson = lesson_with_quiz(catalogue)
    trainee = enrolled_client(client, lesson)
    block_id, given = answers(lesson, right=1)
    for _ in range(2):
        submit(client, lesson, block_id, given)
    refused = client.post(
        f"/en/learning/lessons/{lesson.pk}/quizzes/{block_id}/", {f"question-{q}": c for q, c in given.items()}
    )
    assert refused.status_code == 409
    assert "You have used all 2 attempts at this quiz: nothing was recorded." in refused.content.decode()
    assert QuizAttempt.objects.filter(user=trainee).count() == 2


def test_a_quiz_block_sets_its_own_limit_and_wait(client: Client, catalogue, settings) -> None:
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 10, 0
    lesson = lesson_with_quiz(catalogue, max_attempts=2, cooldown_minutes=30)
    trainee = enrolled_client(client, lesson)
    block_id, given = answers(lesson, right=0)
    submit(client, lesson, block_id, given)
    page = client.get(lesson.url).content.decode()
    assert "1 of 2 attempts used: 1 attempt left." in page
    assert "You can try again in 30 minutes." in page and "Submit answers" not in page
    too_soon = client.post(
        f"/en/learning/lessons/{lesson.pk}/quizzes/{block_id}/", {f"question-{q}": c for q, c in given.items()}
    )
    assert too_soon.status_code == 429
    assert "You can try this quiz again in 30 minutes: nothing was recorded." in too_soon.content.decode()
    assert QuizAttempt.objects.filter(user=trainee).count() == 1
    # Half an hour later it may be tried again.
    QuizAttempt.objects.filter(user=trainee).update(
        created_at=QuizAttempt.objects.get().created_at - timedelta(minutes=31)
    )
    assert "Submit answers" in client.get(lesson.url).content.decode()
    submit(client, lesson, block_id, given)
    assert QuizAttempt.objects.filter(user=trainee).count() == 2


def test_the_site_default_wait_applies_when_the_block_sets_none(client: Client, catalogue, settings) -> None:
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 3, 10
    lesson = lesson_with_quiz(catalogue)
    enrolled_client(client, lesson)
    block_id, given = answers(lesson, right=0)
    submit(client, lesson, block_id, given)
    assert "You can try again in 10 minutes." in client.get(lesson.url).content.decode()


@pytest.mark.parametrize(("counted", "expected"), [("last", 50.0), ("first", 100.0)])
def test_the_score_that_counts_is_the_chosen_attempt_never_the_best(
    client: Client, catalogue, settings, counted: str, expected: float
) -> None:
    settings.QUIZ_COOLDOWN_MINUTES = 0
    lesson = lesson_with_quiz(catalogue, counted_attempt=counted, max_attempts=3)
    trainee = enrolled_client(client, lesson)
    for right in (2, 0, 1):  # best 100 %, first 100 %, last 50 %
        block_id, given = answers(lesson, right=right)
        submit(client, lesson, block_id, given)
    course = lesson.get_parent().get_parent().specific
    assert course_achievement(course=course, user_ids=[trainee.pk]).final_percent[trainee.pk] == expected
    page = client.get(lesson.url).content.decode()
    which = "latest" if counted == "last" else "first"
    assert f"Score that counts (your {which} attempt): {int(expected / 50)} of 2" in page


def test_certificate_eligibility_uses_the_last_attempt_not_the_best() -> None:
    setup = course_with_rule()
    trainee = setup.qualifying_trainee()  # scored 2 of 2 on the final assessment
    rule = certificate_selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None
    row = next(r for r in certificate_selectors.course_eligibility(course=setup.course, rule=rule).rows)
    assert row.user == trainee and row.qualifies
    setup.score(trainee, 0)  # a later, failed attempt is the one that counts now
    row = next(r for r in certificate_selectors.course_eligibility(course=setup.course, rule=rule).rows)
    assert not row.qualifies


def test_feedback_after_an_attempt_gives_the_score_not_the_key(client: Client, catalogue, settings) -> None:
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 3, 0
    lesson = lesson_with_quiz(catalogue)
    enrolled_client(client, lesson)
    block_id, given = answers(lesson, right=1)
    page = submit(client, lesson, block_id, given).content.decode()
    assert "Not passed yet: 1 of 2 correct." in page or "Passed: 1 of 2 correct." in page
    assert "Corridor joins the Singapore and Chongqing rooms." not in page  # the explanation names the answer
    _block, questions = quiz_ids(lesson)
    for _question, right, wrong in questions:
        # The form comes back blank, every choice offered alike: nothing marks which was right.
        assert f'value="{right}" required>' in page and f'value="{wrong}" required>' in page
    assert "checked" not in page
