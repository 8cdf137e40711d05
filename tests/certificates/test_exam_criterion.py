"""A certificate rule can require an exam passed (issue 16, item 7): the administrator picks the exam on the rule
form; the eligibility report counts only a released result at or above the exam's pass mark; the certificate is
issued (its signed credential says so) to those who passed, and refused with the reason to the others."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from certificates import credentials, documents, selectors, services
from certificates.models import Certificate
from exams import marking
from lms.errors import CorridorError
from lms.regions import storage_for_region
from tests import factories
from tests.support.certificates import Course, course_with_rule

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def exam_course(exam: Any) -> Course:
    setup = course_with_rule(min_attendance_percent=0, require_all_modules=False, final_pass_mark=None)
    response = _client(setup.admin).post(
        reverse("certificates:rule-save", args=[setup.course.pk]),
        {"min_attendance_percent": "0", "final_pass_mark": "", "require_exam": str(exam.pk)},
    )
    assert response.status_code == 302
    return setup


def sat(exam: Any, people: dict[Any, int], *, release: bool = True) -> None:
    """The people sit the exam; each essay gets the marks given; the results are released."""
    sitting = factories.past_sitting(exam=exam, candidates=list(people))
    marker = factories.exam_marker(exam)
    for candidate in sitting.candidates.select_related("user"):
        paper = factories.submit_paper_as_candidate(
            candidate=candidate, answers={"First single?": ["a"], "Plan a hybrid class.": "My plan."}
        )
        essay = paper.answers.get(question__kind="essay")
        marking.mark_record(answer_id=essay.pk, by=marker, stage="first", marks=people[candidate.user])
    if release:
        marking.results_release(sitting=sitting, by=factories.administrator())


def test_the_rule_requires_a_released_pass_and_the_credential_says_so(django_capture_on_commit_callbacks: Any) -> None:
    exam = factories.marked_exam(pass_mark=60)
    setup = exam_course(exam)
    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None and rule.require_exam == exam
    page = _client(setup.admin).get(reverse("certificates:eligibility", args=[setup.course.pk])).content.decode()
    assert f"The exam {exam.code}" in page and f'value="{exam.pk}" selected' in page

    passed, failed, unreleased, never = (setup.add_trainee() for _ in range(4))
    sat(exam, {passed: 8, failed: 2})  # 10/16 = 62.5 % and 4/16 = 25 %
    sat(exam, {unreleased: 10}, release=False)  # passed, but not released yet
    rows = {row.user.pk: row for row in selectors.course_eligibility(course=setup.course, rule=rule).rows}
    assert rows[passed.pk].qualifies and rows[passed.pk].criteria[-1].actual == "62.5 %"
    for person in (failed, unreleased, never):
        assert rows[person.pk].reasons == [f"Has no released pass in the exam {exam.code}."]

    with pytest.raises(CorridorError) as refused:
        services.certificate_issue(user=failed, course=setup.course, by=setup.admin)
    assert refused.value.code == "not_eligible"
    assert not Certificate.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        certificate = services.certificate_issue(user=passed, course=setup.course, by=setup.admin)
    stored = storage_for_region(certificate.storage_region).open(certificate.credential_key).read()
    credential = json.loads(stored)
    assert credentials.credential_verify(credential, public_keys=documents.issuer_public_keys()).valid
    narrative = credential["credentialSubject"]["achievement"]["criteria"]["narrative"]
    assert f"passed the exam {exam.code}" in narrative
