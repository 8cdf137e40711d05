"""Writes for enrolment and learning. Each checks everything before it writes anything."""

from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from courses import selectors
from courses.models import CoursePage, CourseTeacher, Enrolment, LessonCompletion, LessonPage, QuizAttempt
from courses.xapi import xapi_enrolled, xapi_lesson_completed, xapi_quiz_scored
from lms.accounts.models import User
from lms.accounts.personal_data import ErasedPerson
from lms.errors import CorridorError


def _require_visible_course(*, course: CoursePage, user: User) -> None:
    if not course.live or not selectors.course_is_visible_to(course=course, user=user):
        # Not found, rather than forbidden: a restricted course's existence is not revealed.
        raise CorridorError("course_not_found", _("That course does not exist."), status=404)


@transaction.atomic
def enrolment_create(*, user: User, course: CoursePage) -> Enrolment:
    """Enrol `user` in `course` (any of its translations); enrolling again returns the same enrolment."""
    _require_visible_course(course=course, user=user)
    existing = selectors.enrolment_for(user=user, course=course)
    if existing is not None:
        return existing
    missing = selectors.prerequisites_missing(user=user, course=course)
    if missing:
        raise CorridorError(
            "prerequisites_missing",
            _("Complete these courses first: %(courses)s.") % {"courses": ", ".join(c.title for c in missing)},
            status=409,
        )
    # Lock the course's pages so two trainees cannot both take the last seat.
    list(CoursePage.objects.select_for_update().filter(translation_key=course.translation_key).values_list("pk"))
    taken = Enrolment.objects.filter(course_key=course.translation_key).count()
    if taken >= course.capacity:
        raise CorridorError(
            "course_full",
            _("This course is full: all %(capacity)d seats are taken.") % {"capacity": course.capacity},
            status=409,
        )
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(user=user, course=course, course_key=course.translation_key)
    except IntegrityError:
        # A concurrent request enrolled this user first; that enrolment is the one.
        return Enrolment.objects.get(user=user, course_key=course.translation_key)
    xapi_enrolled(user_id=user.pk, course=course)
    return enrolment


def _require_enrolled_course(*, user: User, lesson: LessonPage) -> CoursePage:
    course = selectors.course_of_page(page=lesson)
    if course is None or not lesson.live:
        raise CorridorError("lesson_not_found", _("That lesson does not exist."), status=404)
    _require_visible_course(course=course, user=user)
    if selectors.enrolment_for(user=user, course=course) is None:
        raise CorridorError("not_enrolled", _("Enrol in this course first."), status=403)
    return course


@transaction.atomic
def lesson_complete(*, user: User, lesson: LessonPage) -> LessonCompletion:
    course = _require_enrolled_course(user=user, lesson=lesson)
    completion, created = LessonCompletion.objects.get_or_create(
        user=user, lesson_key=lesson.translation_key, defaults={"course_key": course.translation_key}
    )
    if created:
        xapi_lesson_completed(user_id=user.pk, lesson=lesson, course=course)
    return completion


@transaction.atomic
def quiz_submit(*, user: User, lesson: LessonPage, quiz_block_id: str, answers: Mapping[str, str]) -> QuizAttempt:
    """Grade one quiz submission on the server and record the attempt.

    `answers` maps question ids to choice ids, as the quiz form posts them. An id
    that is not the quiz's own is refused, so nothing can be scored that the
    trainee was not shown.
    """
    course = _require_enrolled_course(user=user, lesson=lesson)
    quiz = lesson.quiz_blocks().get(quiz_block_id)
    if quiz is None:
        raise CorridorError("quiz_not_found", _("That quiz is not part of this lesson."), status=404)
    # One submission at a time per trainee: two at once must not both find an attempt left.
    Enrolment.objects.select_for_update().filter(user=user, course_key=course.translation_key).first()
    standing = selectors.quiz_standing(
        user=user, lesson_key=lesson.translation_key, quiz_block_id=quiz_block_id, quiz=quiz, now=timezone.now()
    )
    if not standing.attempts_left:
        raise CorridorError(
            "quiz_no_attempts_left",
            ngettext(
                "You have used your %(count)d attempt at this quiz: nothing was recorded.",
                "You have used all %(count)d attempts at this quiz: nothing was recorded.",
                standing.rules.max_attempts,
            )
            % {"count": standing.rules.max_attempts},
            status=409,
        )
    if standing.next_allowed_at is not None:
        raise CorridorError(
            "quiz_cooling_down",
            ngettext(
                "You can try this quiz again in %(minutes)d minute: nothing was recorded.",
                "You can try this quiz again in %(minutes)d minutes: nothing was recorded.",
                standing.minutes_to_wait,
            )
            % {"minutes": standing.minutes_to_wait},
            status=429,
        )
    questions = {item.id: item.value for item in quiz["questions"].bound_blocks}
    correct = 0
    for question_id, choice_id in answers.items():
        question = questions.get(question_id)
        if question is None:
            raise CorridorError("invalid_answer", _("An answer refers to a question that is not in this quiz."))
        choices = {item.id: item.value for item in question["choices"].bound_blocks}
        if choice_id not in choices:
            raise CorridorError("invalid_answer", _("An answer is not one of its question's choices."))
        correct += bool(choices[choice_id]["is_correct"])
    if set(answers) != set(questions):
        raise CorridorError("incomplete_answers", _("Answer every question before you submit."))
    total = len(questions)
    attempt = QuizAttempt.objects.create(
        user=user,
        course_key=course.translation_key,
        lesson_key=lesson.translation_key,
        quiz_block_id=quiz_block_id,
        answers=dict(answers),
        score=correct,
        max_score=total,
        passed=total > 0 and correct * 100 >= quiz["pass_mark"] * total,
    )
    xapi_quiz_scored(attempt=attempt, lesson=lesson, course=course)
    return attempt


def learning_erase_user(*, person: ErasedPerson) -> dict[str, int]:
    """Erasing a person: their learning records hold no name or text of theirs, only which lessons they finished and
    how quizzes went, so they are kept against the anonymised account (the course's completion figures stand). Their
    places on teaching teams go: an erased account teaches nothing."""
    user = person.user
    teaching, _ = CourseTeacher.objects.filter(user=user).delete()
    return {
        "enrolments_kept": Enrolment.objects.filter(user=user).count(),
        "completions_kept": LessonCompletion.objects.filter(user=user).count(),
        "quiz_attempts_kept": QuizAttempt.objects.filter(user=user).count(),
        "teaching_removed": teaching,
    }


# Teaching teams --------------------------------------------------------------------------------------------------


def course_teacher_add(*, user: User, course: CoursePage) -> CourseTeacher:
    """Put `user` on the course's teaching team (in every language of it): an instructor of all its live sessions.
    Idempotent."""
    teacher, _created = CourseTeacher.objects.get_or_create(user=user, course_key=course.translation_key)
    return teacher
