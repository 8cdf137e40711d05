"""A course with certificates to earn, built from factories: two modules, a final quiz, one finished live session."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from certificates import services
from classrooms.models import AttendanceRecord, AttendanceSource, AttendanceStay, SessionState
from courses.models import LessonCompletion, LessonPage, QuizAttempt
from courses.selectors import course_final_assessment
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, enrol

LIVE_MINUTES = 60


@dataclass
class Course:
    course: Any
    session: Any
    admin: Any
    lessons: list[Any]
    trainees: list[Any] = field(default_factory=list)

    def add_trainee(self, **kwargs: Any) -> Any:
        user = factories.trainee(**kwargs)
        enrol(user, self.course)
        self.trainees.append(user)
        return user

    def attend(self, user: Any, minutes: float) -> None:
        record, _ = AttendanceRecord.objects.get_or_create(session=self.session, user=user)
        start = self.session.starts_at
        AttendanceStay.objects.create(
            record=record,
            source=AttendanceSource.REMOTE,
            started_at=start,
            last_seen_at=start + timedelta(minutes=minutes),
            ended_at=start + timedelta(minutes=minutes),
        )

    def complete(self, user: Any, lessons: int | None = None) -> None:
        for lesson in self.lessons[: len(self.lessons) if lessons is None else lessons]:
            LessonCompletion.objects.create(
                user=user, course_key=self.course.translation_key, lesson_key=lesson.translation_key
            )

    def score(self, user: Any, score: int, max_score: int = 2) -> None:
        assessment = course_final_assessment(course=self.course)
        assert assessment is not None
        QuizAttempt.objects.create(
            user=user,
            course_key=self.course.translation_key,
            lesson_key=assessment.lesson_key,
            quiz_block_id=assessment.quiz_block_id,
            answers={},
            score=score,
            max_score=max_score,
            passed=score * 100 >= assessment.pass_mark * max_score,
        )

    def qualifying_trainee(self, **kwargs: Any) -> Any:
        user = self.add_trainee(**kwargs)
        self.attend(user, LIVE_MINUTES)
        self.complete(user)
        self.score(user, 2)
        return user


def course_with_rule(
    *, min_attendance_percent: int = 80, require_all_modules: bool = True, final_pass_mark: int | None = 60
) -> Course:
    catalogue = factories.site_catalogue()
    course = factories.CourseFactory.create(parent=catalogue, title="Cross-border Safety")
    lessons = []
    for index in range(2):
        module = factories.ModuleFactory.create(parent=course)
        body = [factories.quiz_block(pass_mark=60)] if index == 1 else None
        lessons.append(factories.LessonFactory.create(parent=module, **({"body": body} if body else {})))
    starts_at = timezone.now() - timedelta(days=1)
    session = LiveSessionFactory.create(
        course=course,
        instructor=factories.instructor(),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=LIVE_MINUTES),
        state=SessionState.ENDED,
    )
    admin = factories.administrator()
    services.certificate_rule_set(
        course=course,
        by=admin,
        min_attendance_percent=min_attendance_percent,
        require_all_modules=require_all_modules,
        final_pass_mark=final_pass_mark,
        signatory_en="Dr Lim Hui Min",
        signatory_zh="林慧敏博士",
    )
    return Course(
        course=course, session=session, admin=admin, lessons=list(LessonPage.objects.live().descendant_of(course))
    )
