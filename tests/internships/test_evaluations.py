"""Evaluations (issue 16, item 12): the supervisor's mid-term and final evaluations (criteria scored 1-5 with
comments; the final one passes or fails) and the intern's self-evaluation; a completed internship is a final pass
with every logged week approved."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from internships.models import EVALUATION_CRITERIA, Evaluation, WeekLog
from internships.selectors import placement_completion, week_start_of
from tests import factories

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(score: int = 4, **extra: str) -> dict[str, Any]:
    data: dict[str, Any] = {"summary": "A steady, curious intern."}
    for key, _label in EVALUATION_CRITERIA:
        data[f"score_{key}"] = str(score)
        data[f"comment_{key}"] = f"Good {key}"
    return data | extra


def evaluate_url(placement: Any, kind: str) -> str:
    return f"/en/internships/supervise/placements/{placement.pk}/evaluations/{kind}/"


def test_the_supervisor_evaluates_mid_term_and_final_and_the_intern_reads_them() -> None:
    placement = factories.placement()
    supervisor = signed_in(placement.supervisor)
    page = supervisor.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode()
    assert "Write the mid-term evaluation" in page and "Write the final evaluation" in page

    assert supervisor.get(evaluate_url(placement, "midterm")).status_code == 200
    assert supervisor.post(evaluate_url(placement, "midterm"), form(3)).status_code == 302
    midterm = Evaluation.objects.get(kind="midterm")
    assert midterm.scores == {key: 3 for key, _label in EVALUATION_CRITERIA} and midterm.passed is None
    assert midterm.comments["quality"] == "Good quality" and midterm.author == placement.supervisor

    assert supervisor.post(evaluate_url(placement, "final"), form(5, verdict="passed")).status_code == 302
    final = Evaluation.objects.get(kind="final")
    assert final.passed is True and final.average == 5

    page = supervisor.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode()
    assert "Write the mid-term evaluation" not in page and "Passed" in page and "average 5.0 of 5" in page
    mine = signed_in(placement.intern).get("/en/internships/").content.decode()
    assert "Mid-term evaluation" in mine and "Final evaluation" in mine and "Good initiative" in mine


def test_the_intern_writes_a_self_evaluation_once() -> None:
    placement = factories.placement()
    intern = signed_in(placement.intern)
    url = f"/en/internships/placements/{placement.pk}/self-evaluation/"
    assert "Write my self-evaluation" in intern.get("/en/internships/").content.decode()
    assert intern.post(url, form(4)).status_code == 302
    assert Evaluation.objects.get().kind == "self"
    again = intern.post(url, form(1))
    assert again.status_code == 409 and "already submitted" in again.content.decode()
    assert Evaluation.objects.get().scores["quality"] == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form(6), "Select a valid choice"),
        ({k: v for k, v in form(4).items() if k != "score_skills"}, "Technical skills: This field is required"),
    ],
)
def test_a_score_outside_one_to_five_or_missing_is_refused(data: dict[str, Any], message: str) -> None:
    placement = factories.placement()
    response = signed_in(placement.supervisor).post(evaluate_url(placement, "midterm"), data)
    assert response.status_code == 400 and message in html.unescape(response.content.decode())
    assert not Evaluation.objects.exists()


def test_the_final_evaluation_needs_a_verdict() -> None:
    placement = factories.placement()
    response = signed_in(placement.supervisor).post(evaluate_url(placement, "final"), form(4))
    assert response.status_code == 400 and not Evaluation.objects.exists()


def test_nobody_else_evaluates() -> None:
    placement = factories.placement()
    other_supervisor = factories.placement(company_name="Harbour Labs").supervisor
    assert (
        signed_in(other_supervisor).post(evaluate_url(placement, "final"), form(5, verdict="passed")).status_code == 404
    )
    assert (
        signed_in(placement.intern).post(evaluate_url(placement, "final"), form(5, verdict="passed")).status_code == 403
    )
    stranger = signed_in(factories.trainee())
    assert stranger.post(f"/en/internships/placements/{placement.pk}/self-evaluation/", form(5)).status_code == 404
    # A coordinator reads the intern's page but the evaluation is the supervisor's to write.
    coordinator = signed_in(placement.coordinator)
    refused = coordinator.post(evaluate_url(placement, "final"), form(5, verdict="passed"))
    assert refused.status_code == 403 and "Only the intern's supervisor" in html.unescape(refused.content.decode())
    assert signed_in(placement.supervisor).get(evaluate_url(placement, "annual")).status_code == 404
    assert not Evaluation.objects.exists()


def test_completed_means_a_final_pass_and_every_logged_week_approved() -> None:
    placement = factories.placement()
    now = timezone.now()
    week = week_start_of(timezone.localdate())
    WeekLog.objects.create(placement=placement, week_start=week, total_hours=22, submitted_at=now)
    supervisor = signed_in(placement.supervisor)
    supervisor.post(evaluate_url(placement, "final"), form(4, verdict="passed"))
    completion = placement_completion(placement=placement)
    assert completion.final_passed is True and not completion.completed and completion.approved_hours == 0

    supervisor.post("/en/internships/supervise/approve/", {"logs": [WeekLog.objects.get().pk]})
    completion = placement_completion(placement=placement)
    assert completion.completed and completion.approved_hours == 22
    page = supervisor.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode()
    assert "Internship completed" in page and "22.0 hours approved" in page


def test_a_failed_final_evaluation_does_not_complete_the_internship() -> None:
    placement = factories.placement()
    signed_in(placement.supervisor).post(evaluate_url(placement, "final"), form(2, verdict="failed"))
    completion = placement_completion(placement=placement)
    assert completion.final_passed is False and not completion.completed
