"""Courses' learning events as xAPI statements (lms.xapi, docs/xapi.md), queued in the writing service's transaction.
Classrooms and certificates name a course through `course_activity` too."""

from __future__ import annotations

from django.utils import timezone

from courses.models import CoursePage, LessonPage, QuizAttempt
from lms.xapi import builders
from lms.xapi.services import xapi_enabled, xapi_statement_queue


def _titles(page: CoursePage | LessonPage) -> tuple[str, str]:
    """The page's title in English (or its own language, when it has no English translation) and in Chinese."""
    titles = {
        translation.locale.language_code: translation.title
        for translation in page.get_translations(inclusive=True).select_related("locale")
    }
    return titles.get("en") or page.title, titles.get("zh-hans", "")


def course_activity(course: CoursePage) -> builders.Activity:
    """The course as one activity (its translation key), named in English and Chinese where it has both."""
    title_en, title_zh = _titles(course)
    return builders.course_activity(course_key=course.translation_key, title_en=title_en, title_zh=title_zh)


def xapi_enrolled(*, user_id: int, course: CoursePage) -> None:
    if xapi_enabled():
        xapi_statement_queue(
            statement=builders.course_enrolled(user_id=user_id, course=course_activity(course), at=timezone.now())
        )


def xapi_lesson_completed(*, user_id: int, lesson: LessonPage, course: CoursePage) -> None:
    if xapi_enabled():
        xapi_statement_queue(
            statement=builders.lesson_completed(
                user_id=user_id,
                lesson_key=lesson.translation_key,
                title_en=_titles(lesson)[0],
                course=course_activity(course),
                at=timezone.now(),
            )
        )


def xapi_quiz_scored(*, attempt: QuizAttempt, lesson: LessonPage, course: CoursePage) -> None:
    if xapi_enabled():
        xapi_statement_queue(
            statement=builders.quiz_scored(
                attempt_id=attempt.pk,
                user_id=attempt.user_id,
                lesson_key=attempt.lesson_key,
                quiz_block_id=attempt.quiz_block_id,
                title_en=f"{_titles(lesson)[0]}: quiz",
                score=attempt.score,
                max_score=attempt.max_score,
                passed=attempt.passed,
                course=course_activity(course),
                at=attempt.created_at,
            )
        )
