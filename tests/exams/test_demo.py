"""The demo has the exam centre to try: a preparatory course, its exam with a sitting in a Chongqing exam room, two
registered candidates and the room's invigilator; loading twice duplicates nothing."""

import pytest
from django.core.management import call_command
from django.utils import timezone
from wagtail.models import Locale

from courses.models import CourseKind, CoursePage
from exams import selectors, services
from exams.models import Candidate, Exam, Question, Sitting
from lms.accounts.roles import Role, user_roles

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Exam, Question, Sitting, Candidate))


def test_the_demo_has_an_exam_a_sitting_candidates_and_an_invigilator(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo")
    first = _counts()
    call_command("load_demo")
    assert _counts() == first

    exam = Exam.objects.get(code="DIP-ENTRY")
    course = CoursePage.objects.get(code="PREP-101", locale__language_code="en")
    assert course.kind == CourseKind.PREPARATORY
    chinese = course.get_translation(Locale.objects.get(language_code="zh-hans"))
    assert list(selectors.exams_prepared_for(course=chinese)) == [exam], "either language version names the exam"
    # (The sitting held two days ago, waiting for marking, is tests/exams/test_marking_demo.py's.)
    sitting, upcoming = Sitting.objects.filter(exam=exam, ends_at__gt=timezone.now()).order_by("starts_at")
    assert sitting.room.city == "chongqing" == upcoming.room.city
    assert services.check_in_open(sitting=sitting, now=timezone.now()), "the invigilator can try check-in today"
    assert upcoming.registration_closes_at > timezone.now() and not upcoming.candidates.exists()
    assert sorted(c.user.email for c in sitting.candidates.all()) == [
        "trainee.cq@corridor.example",
        "trainee.sg@corridor.example",
    ]
    [invigilator] = sitting.room.invigilators.all()
    assert Role.INVIGILATOR in user_roles(invigilator)
    assert selectors.user_invigilates(user=invigilator, room=sitting.room)
    # The rule can be met from the bank: papers are ready to be prepared.
    assert services.paper_prepare(sitting=sitting) == 2


def test_the_demo_has_a_practice_exam_to_take_now(settings, client) -> None:
    settings.DEBUG = True
    call_command("load_demo")
    call_command("load_demo")
    [sitting] = Sitting.objects.filter(exam__code="DIP-PRACTICE")
    assert sitting.starts_at <= timezone.now() < sitting.ends_at
    [candidate] = sitting.candidates.all()
    assert candidate.user.email == "trainee.cq@corridor.example" and candidate.checked_in_at is not None
    assert candidate.paper.items, "the paper is prepared before the start"
    client.force_login(candidate.user)
    page = f"/en/exams/candidates/{candidate.pk}/exam/"
    assert page in client.get("/en/exams/mine/").content.decode()
    assert client.post(f"{page}start/").status_code == 302
    assert 'id="exam-form"' in client.get(page).content.decode()
