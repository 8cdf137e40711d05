"""Certificates in the demo: a rule on CX-101, a finished session, trainees who qualify and some who do not.

Idempotent, like the rest of `load_demo`. The issuer key for a development machine is written to
var/ (never committed) unless CERTIFICATE_SIGNING_KEY is set.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from wagtail.models import Locale

from certificates import credentials, selectors, services
from classrooms.models import AttendanceRecord, AttendanceSource, AttendanceStay, LiveSession, SessionState
from courses import services as course_services
from courses.models import CoursePage, LessonCompletion, LessonPage, QuizAttempt
from courses.selectors import course_final_assessment
from lms.accounts.models import Region, User
from lms.accounts.roles import Role

PAST_SESSION_TITLE = "CX-101 kick-off (both rooms)"
# Who is enrolled in the internship programme's course (the demo's intern who has completed, internships.demo).
INTERNSHIP_COURSE_INTERN = "chen.xiaoyu@corridor.example"
SESSION_MINUTES = 90

# (email, first, last, Chinese name, region, minutes attended, lessons completed (None: all), quiz score of 2)
DEMO_TRAINEES = [
    ("trainee.sg@corridor.example", "", "", "林美", Region.SINGAPORE, 90, None, 2),
    ("trainee.cq@corridor.example", "", "", "王军", Region.CHONGQING, 50, None, 2),
    ("aisha.rahman@corridor.example", "Aisha", "Rahman", "", Region.SINGAPORE, 85, None, 2),
    ("chen.xiaoyu@corridor.example", "Xiaoyu", "Chen", "陈晓雨", Region.CHONGQING, 90, None, 2),
    ("li.na@corridor.example", "Na", "Li", "李娜", Region.CHONGQING, 88, None, 0),
    ("daniel.ong@corridor.example", "Daniel", "Ong", "王大年", Region.SINGAPORE, 90, 1, None),
]


def ensure_signing_key() -> None:
    path = settings.CERTIFICATE_SIGNING_KEY_FILE
    if settings.CERTIFICATE_SIGNING_KEY or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(credentials.generate_secret() + "\n")


@transaction.atomic
def load_certificate_demo(*, administrator: User, instructor: User) -> None:
    ensure_signing_key()
    english = Locale.objects.get(language_code="en")
    course = CoursePage.objects.get(code="CX-101", locale=english)
    if selectors.rule_in_force(course_key=course.translation_key) is None:
        assessment = course_final_assessment(course=course)
        services.certificate_rule_set(
            course=course,
            by=administrator,
            min_attendance_percent=80,
            require_all_modules=True,
            final_pass_mark=assessment.pass_mark if assessment else None,
            signatory_en="Dr Lim Hui Min, Programme Director",
            signatory_zh="林慧敏博士 项目主任",
        )
    session = LiveSession.objects.filter(title=PAST_SESSION_TITLE).first()
    if session is None:
        starts_at = (timezone.now() - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        session = LiveSession.objects.create(
            title=PAST_SESSION_TITLE,
            course=course,
            instructor=instructor,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=SESSION_MINUTES),
            state=SessionState.ENDED,
        )
    lessons = list(LessonPage.objects.live().descendant_of(course).order_by("path"))
    assessment = course_final_assessment(course=course)
    for email, first, last, name_zh, region, minutes, lesson_count, score in DEMO_TRAINEES:
        user = User.objects.filter(email=email).first()
        if user is None:
            from django.contrib.auth.models import Group

            from lms.demo import DEMO_PASSWORD

            user = User.objects.create_user(email, DEMO_PASSWORD, first_name=first, last_name=last, home_region=region)
            user.groups.add(Group.objects.get(name=Role.TRAINEE.value))
        if name_zh and not user.name_zh:
            user.name_zh = name_zh
            user.save(update_fields=["name_zh"])
        course_services.enrolment_create(user=user, course=course)
        record, created = AttendanceRecord.objects.get_or_create(session=session, user=user)
        if created:
            AttendanceStay.objects.create(
                record=record,
                source=AttendanceSource.ROOM if region == Region.SINGAPORE else AttendanceSource.REMOTE,
                started_at=session.starts_at,
                last_seen_at=session.starts_at + timedelta(minutes=minutes),
                ended_at=session.starts_at + timedelta(minutes=minutes),
            )
        for lesson in lessons[: len(lessons) if lesson_count is None else lesson_count]:
            LessonCompletion.objects.get_or_create(
                user=user, lesson_key=lesson.translation_key, defaults={"course_key": course.translation_key}
            )
        if assessment is not None and score is not None and not QuizAttempt.objects.filter(user=user).exists():
            QuizAttempt.objects.create(
                user=user,
                course_key=course.translation_key,
                lesson_key=assessment.lesson_key,
                quiz_block_id=assessment.quiz_block_id,
                answers={},
                score=score,
                max_score=2,
                passed=score * 100 >= assessment.pass_mark * 2,
            )
    _load_internship_rule(administrator=administrator, english=english)


def _load_internship_rule(*, administrator: User, english: Locale) -> None:
    """The internship programme's course: its rule requires only a completed internship; the intern who has completed
    one (internships.demo) is enrolled, so the coordinator can issue their internship certificate."""
    from lms.demo import INTERNSHIP_COURSE_CODE

    course = CoursePage.objects.get(code=INTERNSHIP_COURSE_CODE, locale=english)
    if selectors.rule_in_force(course_key=course.translation_key) is None:
        services.certificate_rule_set(
            course=course,
            by=administrator,
            min_attendance_percent=0,
            require_all_modules=False,
            final_pass_mark=None,
            require_internship=True,
            signatory_en="Dr Lim Hui Min, Programme Director",
            signatory_zh="林慧敏博士 项目主任",
        )
    intern = User.objects.filter(email=INTERNSHIP_COURSE_INTERN).first()
    if intern is not None:
        course_services.enrolment_create(user=intern, course=course)
