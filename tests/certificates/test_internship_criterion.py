"""A certificate rule can require a completed internship (issue 16, item 12): the coordinator ticks it on the rule
form, the eligibility report says who has completed and exactly what the others lack, and the certificate (its page,
its JSON, its signed credential and its PDF) names the internship and the company. Refused, with the reason, for an
intern who has not completed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from certificates import credentials, documents, selectors, services
from certificates.models import Certificate
from internships import services as internship_services
from internships.models import EVALUATION_CRITERIA, EvaluationKind, Placement
from internships.selectors import week_start_of
from lms.errors import CorridorError
from lms.regions import storage_for_region
from tests import factories
from tests.support.certificates import Course, course_with_rule
from tests.support.pdf import pdf_text

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def internship_course() -> Course:
    """A course whose rule (version 2, saved from the page) requires only a completed internship."""
    setup = course_with_rule(min_attendance_percent=0, require_all_modules=False, final_pass_mark=None)
    response = _client(setup.admin).post(
        reverse("certificates:rule-save", args=[setup.course.pk]),
        {"min_attendance_percent": "0", "final_pass_mark": "", "require_internship": "on"},
    )
    assert response.status_code == 302
    return setup


def placed(setup: Course, *, weeks_logged: int = 2, company: str = "Lion City Robotics", **names: Any) -> Placement:
    """A trainee of the course placed on an internship with `weeks_logged` weeks logged (none approved yet)."""
    intern = setup.add_trainee(**names)
    start = week_start_of(timezone.localdate()) - timedelta(weeks=weeks_logged + 1)
    placement = factories.placement(intern=intern, start=start, company_name=company)
    for index in range(weeks_logged):
        internship_services.week_log_submit(
            placement=placement,
            by=intern,
            week_start=start + timedelta(weeks=index),
            daily_hours=[5, 5, 5, 5, 5, 0, 0],
            done="Tested the conveyor's sensors.",
            blockers="",
        )
    return placement


def approve_all(placement: Placement) -> None:
    internship_services.week_logs_approve(
        log_ids=list(placement.week_logs.values_list("pk", flat=True)), by=placement.supervisor
    )


def final_evaluation(placement: Placement, *, passed: bool) -> None:
    internship_services.evaluation_submit(
        placement=placement,
        by=placement.supervisor,
        kind=EvaluationKind.FINAL,
        scores={key: 4 if passed else 1 for key, _label in EVALUATION_CRITERIA},
        comments={},
        summary="",
        passed=passed,
    )


def completed(setup: Course, **names: Any) -> Placement:
    placement = placed(setup, **names)
    approve_all(placement)
    final_evaluation(placement, passed=True)
    return placement


def test_the_coordinator_ticks_the_internship_criterion_and_the_rule_page_shows_it() -> None:
    setup = internship_course()
    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None and rule.version == 2 and rule.require_internship
    page = _client(setup.admin).get(reverse("certificates:eligibility", args=[setup.course.pk])).content.decode()
    assert "A completed internship (final evaluation passed, every logged week approved)" in page
    assert 'name="require_internship" checked' in page


def test_the_report_says_who_completed_and_what_the_others_lack() -> None:
    setup = internship_course()
    done = completed(setup, first_name="Mei", last_name="Lim")
    awaiting = placed(setup, first_name="Aisha", last_name="Rahman", company="Yangtze Smart Manufacturing")
    final_evaluation(awaiting, passed=True)  # two logged weeks still await approval
    failed = placed(setup, first_name="Jun", last_name="Wang")
    approve_all(failed)
    final_evaluation(failed, passed=False)
    never = setup.add_trainee(first_name="Daniel", last_name="Ong")

    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None
    rows = {row.user.pk: row for row in selectors.course_eligibility(course=setup.course, rule=rule).rows}
    assert rows[done.intern_id].qualifies
    assert rows[done.intern_id].criteria[-1].actual == "Automation intern at Lion City Robotics"
    assert rows[awaiting.intern_id].reasons == [
        "Has not completed the internship Automation intern at Yangtze Smart Manufacturing: "
        "2 logged weeks await the supervisor's approval."
    ]
    assert rows[failed.intern_id].reasons == [
        "Has not completed the internship Automation intern at Lion City Robotics: "
        "the final evaluation did not pass the internship."
    ]
    assert rows[never.pk].reasons == ["Has no internship placement."]

    page = _client(setup.admin).get(reverse("certificates:eligibility", args=[setup.course.pk])).content.decode()
    assert "Completed internship" in page and "2 logged weeks await the supervisor&#x27;s approval" in page


def test_an_intern_who_has_not_completed_is_refused_with_the_reason_and_nothing_is_issued() -> None:
    setup = internship_course()
    placement = placed(setup)
    final_evaluation(placement, passed=True)
    with pytest.raises(CorridorError) as refused:
        services.certificate_issue(user=placement.intern, course=setup.course, by=setup.admin)
    assert refused.value.code == "not_eligible"
    assert "2 logged weeks await the supervisor's approval" in str(refused.value.message)

    # From the page: back to the report, with the reason.
    url = reverse("certificates:eligibility", args=[setup.course.pk])
    client = _client(setup.admin)
    response = client.post(
        reverse("certificates:issue-one", args=[setup.course.pk]), {"user": placement.intern_id, "next": url}
    )
    assert response.status_code == 303
    page = client.get(url).content.decode()
    assert "Not eligible: Has not completed the internship Automation intern at Lion City Robotics" in page
    assert not Certificate.objects.exists()


def test_the_certificate_names_the_internship_and_company_everywhere_and_verifies(
    django_capture_on_commit_callbacks: Any,
) -> None:
    setup = internship_course()
    placement = completed(setup, first_name="Xiaoyu", last_name="Chen", name_zh="陈晓雨")
    with django_capture_on_commit_callbacks(execute=True):
        certificate = services.certificate_issue(user=placement.intern, course=setup.course, by=setup.admin)
    assert (certificate.internship_title, certificate.internship_company) == ("Automation intern", "Lion City Robotics")
    assert certificate.override_justification == ""

    stored = storage_for_region(certificate.storage_region).open(certificate.credential_key).read()
    credential = json.loads(stored)
    assert credentials.credential_verify(credential, public_keys=documents.issuer_public_keys()).valid
    narrative = credential["credentialSubject"]["achievement"]["criteria"]["narrative"]
    assert "completed the internship Automation intern at Lion City Robotics" in narrative
    pdf = storage_for_region(certificate.storage_region).open(certificate.pdf_key).read()
    text = pdf_text(pdf)
    assert "Internship: Automation intern, Lion City Robotics" in text and "实习" in text

    anyone = Client()
    page = anyone.get(reverse("certificates:verify", args=[certificate.code])).content.decode()
    assert 'data-status="valid"' in page and "Automation intern at Lion City Robotics" in page
    body = anyone.get(reverse("verify:json", args=[certificate.code])).json()
    assert body["status"] == "valid"
    assert body["certificate"]["internship"] == {"title": "Automation intern", "company": "Lion City Robotics"}
    mine = _client(placement.intern).get(reverse("certificates:mine")).content.decode()
    assert "Automation intern at Lion City Robotics" in mine
    [exported] = selectors.certificate_records_of(user=placement.intern)["certificates"]
    assert (exported["internship"], exported["internship_company"]) == ("Automation intern", "Lion City Robotics")


def test_a_rule_without_the_criterion_names_no_internship() -> None:
    setup = course_with_rule(min_attendance_percent=0, require_all_modules=False, final_pass_mark=None)
    placement = completed(setup)
    certificate = services.certificate_issue(user=placement.intern, course=setup.course, by=setup.admin)
    assert certificate.internship_title == "" and certificate.internship_company == ""


def test_bulk_issuing_covers_only_interns_who_completed_and_names_their_internships(
    django_capture_on_commit_callbacks: Any,
) -> None:
    setup = internship_course()
    done = completed(setup, company="Yangtze Smart Manufacturing")
    placed(setup)  # under way: left out
    with django_capture_on_commit_callbacks(execute=True):
        services.certificate_batch_start(course=setup.course, by=setup.admin)
    certificate = Certificate.objects.get()
    assert certificate.user_id == done.intern_id
    assert certificate.internship_company == "Yangtze Smart Manufacturing"
