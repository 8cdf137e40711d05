"""Quiz attempts in Chromium: a trainee sees their attempts left and when they may try again, the score that counts
is their latest attempt, and once none is left the quiz closes (and only then explains the answers)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from courses.models import Enrolment, LessonPage, QuizAttempt
from tests import factories
from tests.support.browser import SignIn, in_another_thread

pytestmark = pytest.mark.e2e


def answer(page: Page, *, right: bool) -> None:
    page.get_by_role("radio", name="Singapore and Chongqing" if right else "Paris and Rome").check()
    page.get_by_role("radio", name="Yes" if right else "No").check()
    page.get_by_role("button", name="Submit answers").click()


def test_a_trainee_uses_their_attempts_waits_between_them_and_the_latest_counts(
    sign_in: SignIn, live_server: Any, site_catalogue: Any, settings: Any, new_page: Callable[..., Page]
) -> None:
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 2, 15
    course = factories.CourseFactory.create(parent=site_catalogue, title="Quiz course")
    module = factories.ModuleFactory.create(parent=course)
    lesson = factories.LessonFactory.create(parent=module, title="Checked lesson", body=[factories.quiz_block()])
    trainee = factories.trainee()
    Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    url = f"{live_server.url}{LessonPage.objects.get(pk=lesson.pk).url}"

    page = sign_in(trainee)
    page.goto(url)
    expect(page.get_by_text("0 of 2 attempts used: 2 attempts left.")).to_be_visible()
    answer(page, right=True)
    expect(page.get_by_text("Passed: 2 of 2 correct.")).to_be_visible()
    expect(page.get_by_text("Score that counts (your latest attempt): 2 of 2")).to_be_visible()
    expect(page.get_by_text("1 of 2 attempts used: 1 attempt left.")).to_be_visible()
    expect(page.get_by_text("You can try again in 15 minutes.")).to_be_visible()
    expect(page.get_by_role("button", name="Submit answers")).to_have_count(0)
    # The answers are not explained while an attempt is left: that would hand over the key.
    expect(page.get_by_text("Corridor joins the Singapore and Chongqing rooms.")).to_have_count(0)

    # A quarter of an hour later (moved back in the database), the form is there again.
    in_another_thread(
        lambda: QuizAttempt.objects.filter(user=trainee).update(
            created_at=QuizAttempt.objects.get(user=trainee).created_at - timedelta(minutes=16)
        )
    )
    page.reload()
    stale = new_page(storage_state=page.context.storage_state())  # a second tab, opened before the last attempt
    stale.goto(url)
    answer(page, right=False)
    expect(page.get_by_text("Not passed yet: 0 of 2 correct.")).to_be_visible()
    expect(page.get_by_text("Score that counts (your latest attempt): 0 of 2")).to_be_visible()
    expect(page.get_by_text("No attempts left: this quiz is finished.")).to_be_visible()
    expect(page.get_by_role("button", name="Submit answers")).to_have_count(0)
    expect(page.get_by_text("Corridor joins the Singapore and Chongqing rooms.")).to_be_visible()
    # The second tab still shows the form: its submission is refused, with the reason, and nothing is stored.
    answer(stale, right=True)
    expect(stale.get_by_text("You have used all 2 attempts at this quiz: nothing was recorded.")).to_be_visible()
    expect(stale.get_by_text("Score that counts (your latest attempt): 0 of 2")).to_be_visible()
    assert QuizAttempt.objects.filter(user=trainee).count() == 2
