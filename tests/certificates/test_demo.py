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
