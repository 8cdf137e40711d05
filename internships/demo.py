"""Internships in the demo: a host company in Singapore, its supervisor, and three interns at different stages (well
under way with weeks approved and one awaiting approval, and a live check-in scheduled for tomorrow; behind on hours
with an overdue task; starting next week);
and a host company in Chongqing whose intern has completed (every week approved, the final evaluation passed), ready
for the internship certificate (the certificate demo's INT-201 rule requires a completed internship).

Idempotent, like the rest of `load_demo`. The supervisor signs in with the demo password, or with a link from
"Company supervisor? Sign in with an emailed link" (the email is printed to the console under `make run`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from courses.models import CoursePage
from internships.models import (
    EVALUATION_CRITERIA,
    CheckIn,
    Evaluation,
    EvaluationKind,
    HostCompany,
    Internship,
    InternTask,
    Placement,
    TaskStatus,
    WeekLog,
)
from internships.selectors import week_start_of
from internships.services import check_in_schedule
from lms.accounts.models import Region, User
from lms.accounts.roles import Role
from lms.timezones import SCHEDULING_TIME_ZONE

# The course the demo internships' live check-ins are held under (the certificate demo's internship course).
CHECK_IN_COURSE_CODE = "INT-201"
DEMO_PASSWORD = "corridor-demo"  # the demo's shared password (lms.demo.DEMO_PASSWORD)
SUPERVISOR_EMAIL = "supervisor@corridor.example"
COMPANY = "Lion City Robotics"
# The Chongqing company, its supervisor and the intern who has completed: (email, first, last, language).
COMPLETED_COMPANY = "Yangtze Smart Manufacturing"
COMPLETED_SUPERVISOR = ("supervisor.cq@corridor.example", "Hong", "Zhou", "zh-hans")
COMPLETED_INTERN = ("chen.xiaoyu@corridor.example", "Xiaoyu", "Chen", "zh-hans")
COMPLETED_WEEKS = 12
# (email, first, last, language, weeks since the start (negative: not started yet), hours of each week logged (the
# last one awaits approval), whether their open task is overdue)
DEMO_INTERNS = [
    ("trainee.sg@corridor.example", "Mei", "Lim", "en", 6, [24, 26, 22, 25, 23, 21], False),
    ("aisha.rahman@corridor.example", "Aisha", "Rahman", "en", 3, [21, 18, 12], True),
    ("trainee.cq@corridor.example", "Jun", "Wang", "zh-hans", -1, [], False),
]


def _person(email: str, first: str, last: str, language: str, role: Role, region: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email, DEMO_PASSWORD, first_name=first, last_name=last, home_region=region, preferred_language=language
        )
    user.groups.add(Group.objects.get(name=role.value))
    return user


@transaction.atomic
def load_internship_demo(*, administrator: User) -> None:
    supervisor = _person(SUPERVISOR_EMAIL, "Grace", "Ho", "en", Role.SUPERVISOR, Region.SINGAPORE)
    company, _ = HostCompany.objects.get_or_create(
        name=COMPANY, defaults={"city": Region.SINGAPORE, "address": "1 Fusionopolis Way, Singapore 138632"}
    )
    today = timezone.localdate()
    this_week = week_start_of(today)
    course = CoursePage.objects.filter(code=CHECK_IN_COURSE_CODE, locale__language_code="en").first()
    for email, first, last, language, weeks_in, hours, late in DEMO_INTERNS:
        intern = _person(email, first, last, language, Role.TRAINEE, Region.SINGAPORE)
        if Placement.objects.filter(intern=intern, internship__company=company).exists():
            continue
        start = this_week - timedelta(weeks=weeks_in)
        internship = Internship.objects.create(
            title="Automation engineering intern",
            company=company,
            start=start,
            end=start + timedelta(weeks=16),
            target_hours_per_week=20,
            course=course,
        )
        placement = Placement.objects.create(
            internship=internship, intern=intern, supervisor=supervisor, coordinator=administrator
        )
        now = timezone.now()
        for index, total in enumerate(hours):
            week = start + timedelta(weeks=index)
            if week >= this_week:
                break
            daily = [Decimal(total) / 5] * 5 + [Decimal(0), Decimal(0)]
            last_one = index == len(hours) - 1
            WeekLog.objects.create(
                placement=placement,
                week_start=week,
                daily_hours=[float(value) for value in daily],
                total_hours=Decimal(total),
                done="Wired and tested the conveyor's sensors; wrote up the results.",
                blockers="" if total >= 20 else "Waiting for access to the test rig.",
                submitted_at=now,
                approved_at=None if last_one else now,
                approved_by=None if last_one else supervisor,
            )
        if weeks_in > 0 and not late:
            CheckIn.objects.create(
                placement=placement,
                held_on=today - timedelta(days=4),
                notes="Video call: the sensor tests are on track.",
                recorded_by=supervisor,
            )
            if course is not None:
                # The next one, on the live page: tomorrow at 10:00 (UTC+8), half an hour.
                tomorrow = datetime.combine(today + timedelta(days=1), time(10, 0), tzinfo=SCHEDULING_TIME_ZONE)
                check_in_schedule(placement=placement, by=supervisor, starts_at=tomorrow, minutes=30)
        if weeks_in > 0:
            InternTask.objects.create(
                placement=placement,
                title="Read the line's safety manual",
                deadline=start + timedelta(days=4),
                status=TaskStatus.DONE,
                created_by=supervisor,
                completed_at=now,
            )
            InternTask.objects.create(
                placement=placement,
                title="Draft the sensor test plan",
                deadline=today - timedelta(days=2) if late else today + timedelta(days=5),
                created_by=supervisor,
            )
    _load_completed_internship(administrator=administrator, today=today)


def _load_completed_internship(*, administrator: User, today: date) -> None:
    """A twelve-week internship that ended a month ago: every week logged and approved, evaluations written."""
    email, first, last, language = COMPLETED_SUPERVISOR
    supervisor = _person(email, first, last, language, Role.SUPERVISOR, Region.CHONGQING)
    company, _ = HostCompany.objects.get_or_create(
        name=COMPLETED_COMPANY, defaults={"city": Region.CHONGQING, "address": "18 Jinyu Avenue, Liangjiang, Chongqing"}
    )
    email, first, last, language = COMPLETED_INTERN
    intern = _person(email, first, last, language, Role.TRAINEE, Region.CHONGQING)
    if Placement.objects.filter(intern=intern, internship__company=company).exists():
        return
    start = week_start_of(today) - timedelta(weeks=COMPLETED_WEEKS + 4)
    internship = Internship.objects.create(
        title="Production line automation intern",
        company=company,
        start=start,
        end=start + timedelta(weeks=COMPLETED_WEEKS, days=-3),
        target_hours_per_week=24,
    )
    placement = Placement.objects.create(
        internship=internship, intern=intern, supervisor=supervisor, coordinator=administrator
    )
    now = timezone.now()
    for index in range(COMPLETED_WEEKS):
        WeekLog.objects.create(
            placement=placement,
            week_start=start + timedelta(weeks=index),
            daily_hours=[5.0, 5.0, 5.0, 5.0, 5.0, 0.0, 0.0],
            total_hours=Decimal(25),
            done="Programmed and tested the packing cell's PLC; documented the changes.",
            submitted_at=now,
            approved_at=now,
            approved_by=supervisor,
        )
    for kind, author, passed in (
        (EvaluationKind.MIDTERM, supervisor, None),
        (EvaluationKind.SELF, intern, None),
        (EvaluationKind.FINAL, supervisor, True),
    ):
        Evaluation.objects.create(
            placement=placement,
            kind=kind,
            scores={key: 4 for key, _label in EVALUATION_CRITERIA},
            comments={key: "" for key, _label in EVALUATION_CRITERIA},
            summary="Reliable and careful; ready for a junior engineer's role.",
            passed=passed,
            author=author,
            submitted_at=now,
        )
