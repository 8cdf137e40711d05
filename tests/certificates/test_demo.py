"""The demo lets a person try the whole certificate flow: some trainees qualify, some do not, each with a reason."""

import pytest
from django.core.management import call_command
from wagtail.models import Locale

from certificates import selectors
from courses.models import CoursePage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings) -> None:
    """The demo's known passwords are for a developer's machine: load_demo runs only under DEBUG."""
    settings.DEBUG = True


def test_the_demo_course_has_trainees_who_qualify_and_trainees_who_do_not() -> None:
    call_command("load_demo")
    call_command("load_demo")  # idempotent
    course = CoursePage.objects.get(code="CX-101", locale=Locale.objects.get(language_code="en"))
    rule = selectors.rule_in_force(course_key=course.translation_key)
    assert rule is not None and rule.version == 1
    report = selectors.course_eligibility(course=course, rule=rule)
    qualifying = {row.user.email for row in report.rows if row.qualifies}
    assert {
        "trainee.sg@corridor.example",
        "aisha.rahman@corridor.example",
        "chen.xiaoyu@corridor.example",
    } <= qualifying
    reasons = {row.user.email: row.reasons for row in report.rows if not row.qualifies}
    assert any("live minutes" in reason for reason in reasons["trainee.cq@corridor.example"])
    assert any("final assessment" in reason for reason in reasons["li.na@corridor.example"])
    assert any("modules" in reason for reason in reasons["daniel.ong@corridor.example"])


def test_the_demo_has_an_intern_who_completed_and_qualifies_for_the_internship_certificate() -> None:
    from certificates import services
    from internships.demo import COMPLETED_COMPANY
    from lms.accounts.models import User
    from lms.demo import INTERNSHIP_COURSE_CODE

    call_command("load_demo")
    call_command("load_demo")  # idempotent
    course = CoursePage.objects.get(code=INTERNSHIP_COURSE_CODE, locale=Locale.objects.get(language_code="en"))
    rule = selectors.rule_in_force(course_key=course.translation_key)
    assert rule is not None and rule.version == 1 and rule.require_internship
    report = selectors.course_eligibility(course=course, rule=rule)
    (row,) = report.rows
    assert row.user.email == "chen.xiaoyu@corridor.example" and row.qualifies
    assert row.criteria[-1].actual == f"Production line automation intern at {COMPLETED_COMPANY}"

    certificate = services.certificate_issue(
        user=row.user, course=course, by=User.objects.get(email="admin@corridor.example")
    )
    assert (certificate.internship_title, certificate.internship_company) == (
        "Production line automation intern",
        COMPLETED_COMPANY,
    )
