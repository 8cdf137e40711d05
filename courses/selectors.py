"""Reads for the catalogue and for trainees' learning. Each returns plain data or a QuerySet.

Query counts here are fixed per page, whatever the number of courses, modules
or lessons (tests/courses/test_query_counts.py holds us to it).
"""

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from wagtail.models import Locale, Page, ReferenceIndex

from courses.forms import CatalogueFilterForm
from courses.models import (
    CatalogueIndexPage,
    CoursePage,
    CourseTeacher,
    Enrolment,
    LessonCompletion,
    LessonPage,
    ModulePage,
    QuizAttempt,
)
from lms.accounts.models import Cohort
from lms.accounts.roles import Role, user_roles

STAFF_ROLES = {Role.INSTRUCTOR, Role.ADMINISTRATOR}


def user_is_course_staff(user: Any) -> bool:
    """Instructors and administrators see every course, restricted or not."""
    return bool(user_roles(user) & STAFF_ROLES)


def course_is_visible_to(*, course: CoursePage, user: Any) -> bool:
    if course.cohort_id is None or user_is_course_staff(user):
        return True
    if not user.is_authenticated:
        return False
    return Cohort.members.through.objects.filter(cohort_id=course.cohort_id, user_id=user.pk).exists()


def course_of_page(*, page: ModulePage | LessonPage) -> CoursePage | None:
    return CoursePage.objects.ancestor_of(page).first()


def enrolment_for(*, user: Any, course: CoursePage) -> Enrolment | None:
    if not user.is_authenticated:
        return None
    return Enrolment.objects.filter(user=user, course_key=course.translation_key).first()


def lesson_is_open_to(*, course: CoursePage, user: Any) -> bool:
    if not user.is_authenticated:
        return False
    return user_is_course_staff(user) or enrolment_for(user=user, course=course) is not None


def document_is_open_to(*, document: Any, user: Any) -> bool:
    """Whether `user` may download `document` (a lesson's handout or video file): course staff may, and so may a
    trainee enrolled in a course one of whose published lessons uses it (Wagtail's reference index says which).
    A document no published lesson uses is for staff only."""
    if not user.is_authenticated:
        return False
    if user_is_course_staff(user):
        return True
    page_ids = ReferenceIndex.get_references_to(document).filter(
        base_content_type=ContentType.objects.get_for_model(Page)
    )
    lessons = LessonPage.objects.live().filter(pk__in=[int(ref.object_id) for ref in page_ids])
    for lesson in lessons:
        course = course_of_page(page=lesson)
        if course is not None and enrolment_for(user=user, course=course) is not None:
            return True
    return False


def seats_taken_by_course(course_keys: Iterable[UUID]) -> dict[UUID, int]:
    rows = (
        Enrolment.objects.filter(course_key__in=list(course_keys))
        .values("course_key")
        .annotate(taken=Count("id"))
        .values_list("course_key", "taken")
    )
    return dict(rows)


def visible_courses(*, user: Any, locale: Locale) -> Any:
    """Live courses in `locale` the user may see (a Wagtail PageQuerySet)."""
    courses = CoursePage.objects.live().filter(locale=locale)
    if user_is_course_staff(user):
        return courses
    if not user.is_authenticated:
        return courses.filter(cohort__isnull=True)
    member_of = list(Cohort.objects.filter(members=user).values_list("id", flat=True))
    return courses.filter(Q(cohort__isnull=True) | Q(cohort__in=member_of))


@dataclass(frozen=True)
class CatalogueEntry:
    course: CoursePage
    seats_left: int


def catalogue_page(*, catalogue: CatalogueIndexPage, request: HttpRequest) -> dict[str, Any]:
    """Everything the catalogue page shows: the filter form, one page of courses, seats left."""
    form = CatalogueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    courses = visible_courses(user=request.user, locale=catalogue.locale).child_of(catalogue)
    if kind := filters.get("kind"):
        courses = courses.filter(kind=kind)
    if category := filters.get("category"):
        courses = courses.filter(category=category)
    if level := filters.get("level"):
        courses = courses.filter(level=level)
    if language := filters.get("language"):
        courses = courses.filter(**{CatalogueFilterForm.LANGUAGE_FIELDS[language]: True})
    if delivery := filters.get("delivery"):
        courses = courses.filter(**{CatalogueFilterForm.DELIVERY_FIELDS[delivery]: True})
    query = (filters.get("q") or "").strip()
    results: Any = catalogue_search(courses, query) if query else courses.order_by("title")
    paginator = Paginator(results, catalogue.page_size)
    page = paginator.get_page(request.GET.get("page"))
    page_courses: list[CoursePage] = list(page.object_list)
    taken = seats_taken_by_course(course.translation_key for course in page_courses)
    entries = [
        CatalogueEntry(course=c, seats_left=max(c.capacity - taken.get(c.translation_key, 0), 0)) for c in page_courses
    ]
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "filter_form": form,
        "query": query,
        "entries": entries,
        "page_obj": page,
        "paginator": paginator,
        "filters_active": any(filters.values()),
        "query_string": params.urlencode(),
    }


# Han, kana and hangul: scripts written without spaces between words.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def catalogue_search(courses: Any, query: str) -> Any:
    """Full-text search (PostgreSQL's on PostgreSQL, the database backend's otherwise).

    Neither PostgreSQL's built-in configurations nor SQLite's FTS split Chinese
    into words, so a query in Chinese matches by substring of title, code and
    summary instead, which is what a reader of Chinese expects.
    """
    if _CJK.search(query):
        return courses.filter(
            Q(title__icontains=query) | Q(summary__icontains=query) | Q(code__icontains=query)
        ).order_by("title")
    return courses.search(query, operator="and")


def course_lessons(course: CoursePage) -> QuerySet[LessonPage]:
    return LessonPage.objects.descendant_of(course).live().defer("body").order_by("path")


@dataclass(frozen=True)
class CourseProgress:
    completed: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0

    @property
    def is_complete(self) -> bool:
        return self.total > 0 and self.completed >= self.total


def progress_by_course(*, user: Any, courses: list[CoursePage]) -> dict[UUID, CourseProgress]:
    """Completed and total live lessons per course (by translation key), in two queries."""
    if not courses:
        return {}
    in_any_course = Q()
    for course in courses:
        in_any_course |= Q(path__startswith=course.path, depth__gt=course.depth)
    lesson_keys_by_course: dict[UUID, set[UUID]] = defaultdict(set)
    for path, lesson_key in LessonPage.objects.live().filter(in_any_course).values_list("path", "translation_key"):
        for course in courses:
            if path.startswith(course.path):
                lesson_keys_by_course[course.translation_key].add(lesson_key)
    done = set(
        LessonCompletion.objects.filter(user=user, course_key__in=[c.translation_key for c in courses]).values_list(
            "lesson_key", flat=True
        )
    )
    return {
        course.translation_key: CourseProgress(
            completed=len(lesson_keys_by_course[course.translation_key] & done),
            total=len(lesson_keys_by_course[course.translation_key]),
        )
        for course in courses
    }


def prerequisites_missing(*, user: Any, course: CoursePage) -> list[CoursePage]:
    """Prerequisite courses the user has not completed (every lesson), in the course's language."""
    prerequisite_keys = list(course.prerequisites.values_list("translation_key", flat=True))
    if not prerequisite_keys:
        return []
    prerequisites = localized_courses(prerequisite_keys, course.locale)
    if not user.is_authenticated:
        return prerequisites
    progress = progress_by_course(user=user, courses=prerequisites)
    return [p for p in prerequisites if not progress[p.translation_key].is_complete]


def localized_courses(course_keys: list[UUID], locale: Locale) -> list[CoursePage]:
    """One page per course key: the one in `locale` where it exists, else any live one."""
    by_key: dict[UUID, CoursePage] = {}
    for page in CoursePage.objects.live().filter(translation_key__in=course_keys).order_by("title"):
        if page.translation_key not in by_key or page.locale_id == locale.pk:
            by_key[page.translation_key] = page
    return sorted(by_key.values(), key=lambda page: page.title)


def course_page_details(*, course: CoursePage, user: Any) -> dict[str, Any]:
    modules = list(ModulePage.objects.child_of(course).live().order_by("path"))
    lessons = list(course_lessons(course))
    lessons_by_module: dict[int, list[LessonPage]] = {m.pk: [] for m in modules}
    for lesson in lessons:
        for module in modules:
            if lesson.path.startswith(module.path):
                lessons_by_module[module.pk].append(lesson)
    taken = seats_taken_by_course([course.translation_key]).get(course.translation_key, 0)
    enrolment = enrolment_for(user=user, course=course)
    progress = progress_by_course(user=user, courses=[course])[course.translation_key] if enrolment else None
    completed_keys: set[UUID] = set()
    if enrolment is not None:
        completed_keys = set(
            LessonCompletion.objects.filter(user=user, course_key=course.translation_key).values_list(
                "lesson_key", flat=True
            )
        )
    return {
        "outline": [(module, lessons_by_module[module.pk]) for module in modules],
        "lesson_count": len(lessons),
        "seats_left": max(course.capacity - taken, 0),
        "enrolment": enrolment,
        "progress": progress,
        "completed_lesson_keys": completed_keys,
        "missing_prerequisites": prerequisites_missing(user=user, course=course),
        "prerequisite_courses": localized_courses(
            list(course.prerequisites.values_list("translation_key", flat=True)), course.locale
        ),
    }


@dataclass(frozen=True)
class QuizRules:
    """How often a quiz may be tried and which attempt's score counts (the block's own, or the site's defaults)."""

    max_attempts: int
    cooldown: timedelta
    counted: str  # "last" or "first": never the best


def quiz_rules(quiz: Mapping[str, Any]) -> QuizRules:
    max_attempts = quiz.get("max_attempts") or settings.QUIZ_MAX_ATTEMPTS
    minutes = quiz.get("cooldown_minutes")
    if minutes is None:
        minutes = settings.QUIZ_COOLDOWN_MINUTES
    counted = quiz.get("counted_attempt") or "last"
    return QuizRules(max_attempts=int(max_attempts), cooldown=timedelta(minutes=int(minutes)), counted=str(counted))


@dataclass(frozen=True)
class QuizStanding:
    """Where one trainee stands on one quiz: attempts used and left, when the next is allowed, the score that counts."""

    rules: QuizRules
    attempts: tuple[QuizAttempt, ...]  # oldest first
    now: datetime

    @property
    def attempts_used(self) -> int:
        return len(self.attempts)

    @property
    def attempts_left(self) -> int:
        return max(self.rules.max_attempts - self.attempts_used, 0)

    @property
    def counted(self) -> QuizAttempt | None:
        if not self.attempts:
            return None
        return self.attempts[-1] if self.rules.counted == "last" else self.attempts[0]

    @property
    def latest(self) -> QuizAttempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def next_allowed_at(self) -> datetime | None:
        """When the next attempt may be made, if that is later than now (None: now, or never)."""
        if not self.attempts or not self.attempts_left:
            return None
        at = self.attempts[-1].created_at + self.rules.cooldown
        return at if at > self.now else None

    @property
    def minutes_to_wait(self) -> int:
        at = self.next_allowed_at
        return 0 if at is None else max(1, math.ceil((at - self.now).total_seconds() / 60))

    @property
    def may_attempt(self) -> bool:
        return self.attempts_left > 0 and self.next_allowed_at is None

    @property
    def finished(self) -> bool:
        """No attempt left: explanations of the answers may be shown now, as nothing more can be scored."""
        return self.attempts_left == 0


def quiz_attempts_of(*, user: Any, lesson_key: UUID, quiz_block_id: str | None = None) -> QuerySet[QuizAttempt]:
    attempts = QuizAttempt.objects.filter(user=user, lesson_key=lesson_key)
    if quiz_block_id is not None:
        attempts = attempts.filter(quiz_block_id=quiz_block_id)
    return attempts.order_by("created_at", "pk")


def quiz_standing(
    *, user: Any, lesson_key: UUID, quiz_block_id: str, quiz: Mapping[str, Any], now: datetime
) -> QuizStanding:
    attempts = tuple(quiz_attempts_of(user=user, lesson_key=lesson_key, quiz_block_id=quiz_block_id))
    return QuizStanding(rules=quiz_rules(quiz), attempts=attempts, now=now)


def lesson_page_details(*, lesson: LessonPage, course: CoursePage, user: Any) -> dict[str, Any]:
    lessons = list(course_lessons(course))
    keys = [item.pk for item in lessons]
    position = keys.index(lesson.pk) if lesson.pk in keys else -1
    completed = LessonCompletion.objects.filter(user=user, lesson_key=lesson.translation_key).exists()
    by_quiz: dict[str, list[QuizAttempt]] = defaultdict(list)
    for attempt in quiz_attempts_of(user=user, lesson_key=lesson.translation_key):
        by_quiz[attempt.quiz_block_id].append(attempt)
    now = timezone.now()
    quiz_standings = {
        block_id: QuizStanding(rules=quiz_rules(quiz), attempts=tuple(by_quiz[block_id]), now=now)
        for block_id, quiz in lesson.quiz_blocks().items()
    }
    return {
        "lesson_completed": completed,
        "quiz_standings": quiz_standings,
        "previous_lesson": lessons[position - 1] if position > 0 else None,
        "next_lesson": lessons[position + 1] if 0 <= position < len(lessons) - 1 else None,
        "lesson_position": position + 1,
        "lesson_count": len(lessons),
    }


@dataclass(frozen=True)
class LearningEntry:
    course: CoursePage
    progress: CourseProgress
    enrolled_at: Any


def my_learning(*, user: Any, locale: Locale) -> list[LearningEntry]:
    enrolments = list(Enrolment.objects.filter(user=user).order_by("-created_at"))
    courses = {c.translation_key: c for c in localized_courses([e.course_key for e in enrolments], locale)}
    progress = progress_by_course(user=user, courses=list(courses.values()))
    return [
        LearningEntry(course=courses[e.course_key], progress=progress[e.course_key], enrolled_at=e.created_at)
        for e in enrolments
        if e.course_key in courses
    ]


@dataclass(frozen=True)
class FinalAssessment:
    """The course's final assessment: its last quiz, in the order the course is taught."""

    lesson_key: UUID
    quiz_block_id: str
    lesson_title: str
    pass_mark: int
    counted: str = "last"  # which attempt's score counts: "last" or "first"


@dataclass(frozen=True)
class CourseAchievement:
    """What each trainee has achieved in a course, for certificate rules."""

    modules_total: int
    modules_completed: dict[int, int]
    final_assessment: FinalAssessment | None
    # The score that counts on the final assessment (its last attempt, or its first), in percent; absent when
    # never attempted. Never the best of several attempts.
    final_percent: dict[int, float]


def course_final_assessment(*, course: CoursePage) -> FinalAssessment | None:
    for lesson in reversed(list(course_lessons(course).defer(None))):
        quizzes = lesson.quiz_blocks()
        if quizzes:
            block_id, quiz = list(quizzes.items())[-1]
            return FinalAssessment(
                lesson_key=lesson.translation_key,
                quiz_block_id=block_id,
                lesson_title=lesson.title,
                pass_mark=int(quiz["pass_mark"]),
                counted=quiz_rules(quiz).counted,
            )
    return None


def course_achievement(*, course: CoursePage, user_ids: Iterable[int]) -> CourseAchievement:
    """Modules completed (every live lesson done) and best final-assessment score per user, in a few queries."""
    user_ids = list(user_ids)
    modules = list(ModulePage.objects.child_of(course).live().values_list("path", flat=True))
    lessons = list(course_lessons(course).values_list("path", "translation_key"))
    lesson_keys_by_module: dict[str, set[UUID]] = defaultdict(set)
    for path, lesson_key in lessons:
        for module_path in modules:
            if path.startswith(module_path):
                lesson_keys_by_module[module_path].add(lesson_key)
    done: dict[int, set[UUID]] = defaultdict(set)
    for user_id, lesson_key in LessonCompletion.objects.filter(
        user_id__in=user_ids, course_key=course.translation_key
    ).values_list("user_id", "lesson_key"):
        done[user_id].add(lesson_key)
    # A module with no lessons yet is not something a trainee can complete, so it does not count.
    countable = [keys for keys in lesson_keys_by_module.values() if keys]
    completed = {user_id: sum(1 for keys in countable if keys <= done[user_id]) for user_id in user_ids}
    assessment = course_final_assessment(course=course)
    counted: dict[int, float] = {}
    if assessment is not None:
        attempts = (
            QuizAttempt.objects.filter(
                user_id__in=user_ids, lesson_key=assessment.lesson_key, quiz_block_id=assessment.quiz_block_id
            )
            .order_by("created_at", "pk")
            .values_list("user_id", "score", "max_score")
        )
        for user_id, score, max_score in attempts:
            if assessment.counted == "first" and user_id in counted:
                continue  # oldest first: the first one seen is the one that counts
            counted[user_id] = round(100 * score / max_score, 1) if max_score else 0.0
    return CourseAchievement(
        modules_total=len(countable),
        modules_completed=completed,
        final_assessment=assessment,
        final_percent=counted,
    )


def learning_records_of(*, user: Any) -> dict[str, Any]:
    """A person's learning records for their data export: enrolments, completed lessons, quiz attempts and the
    courses whose teaching team they are on."""
    titles = {
        page.translation_key: page.title
        for page in CoursePage.objects.filter(
            translation_key__in=Enrolment.objects.filter(user=user).values("course_key")
        ).order_by("pk")
    }
    lessons = {
        page.translation_key: page.title
        for page in LessonPage.objects.filter(
            translation_key__in=LessonCompletion.objects.filter(user=user).values("lesson_key")
        ).order_by("pk")
    }
    return {
        "enrolments": [
            {
                "course": titles.get(row.course_key, ""),
                "course_key": str(row.course_key),
                "at": row.created_at.isoformat(),
            }
            for row in Enrolment.objects.filter(user=user).order_by("created_at")
        ],
        "completed_lessons": [
            {
                "lesson": lessons.get(row.lesson_key, ""),
                "lesson_key": str(row.lesson_key),
                "course_key": str(row.course_key),
                "at": row.completed_at.isoformat(),
            }
            for row in LessonCompletion.objects.filter(user=user).order_by("completed_at")
        ],
        "quiz_attempts": [
            {
                "lesson_key": str(row.lesson_key),
                "course_key": str(row.course_key),
                "quiz": row.quiz_block_id,
                "answers": row.answers,
                "score": row.score,
                "max_score": row.max_score,
                "passed": row.passed,
                "at": row.created_at.isoformat(),
            }
            for row in QuizAttempt.objects.filter(user=user).order_by("created_at")
        ],
        "teaching": [
            {"course_key": str(row.course_key), "at": row.created_at.isoformat()}
            for row in CourseTeacher.objects.filter(user=user).order_by("created_at")
        ],
    }
