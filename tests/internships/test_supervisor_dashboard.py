"""The supervisor's dashboard (issue 16, items 11 and 14): one row per own intern with hours against the target,
overdue tasks and the last log; filters; approving one week or many interns' weeks at once; and a supervisor who
reaches for another company's intern (a forged id) is refused with nothing changed."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from internships.models import InternTask, WeekLog
from internships.selectors import week_start_of
from tests import factories

pytestmark = pytest.mark.django_db

DASHBOARD = "/en/internships/supervise/"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def log(placement: Any, *, weeks_ago: int, hours: int) -> WeekLog:
    week = week_start_of(timezone.localdate()) - timedelta(days=7 * weeks_ago)
    return WeekLog.objects.create(
        placement=placement,
        week_start=week,
        total_hours=hours,
        daily_hours=[hours, 0, 0, 0, 0, 0, 0],
        done="Work",
        submitted_at=timezone.now(),
    )


@pytest.fixture
def team() -> dict[str, Any]:
    """One supervisor with three interns: on track, behind on hours, and with an overdue task; plus another
    company's supervisor with an intern of their own."""
    supervisor = factories.supervisor(first_name="Wei", last_name="Tan")
    on_track = factories.placement(
        supervisor_user=supervisor, intern=factories.trainee(first_name="Aisha", last_name="Rahman")
    )
    behind = factories.placement(
        supervisor_user=supervisor,
        intern=factories.trainee(first_name="Daniel", last_name="Ong"),
        company_name="Lion City Robotics 2",
    )
    overdue = factories.placement(
        supervisor_user=supervisor,
        intern=factories.trainee(first_name="Xiaoyu", last_name="Chen"),
        company_name="Lion City Robotics 3",
    )
    log(on_track, weeks_ago=1, hours=22)
    log(on_track, weeks_ago=0, hours=9)
    log(behind, weeks_ago=1, hours=12)
    log(overdue, weeks_ago=1, hours=20)
    InternTask.objects.create(placement=overdue, title="Late report", deadline=timezone.localdate() - timedelta(days=2))
    InternTask.objects.create(
        placement=on_track, title="Done on time", deadline=timezone.localdate() - timedelta(days=2), status="done"
    )
    other = factories.placement(intern=factories.trainee(first_name="Na", last_name="Li"), company_name="Harbour Labs")
    log(other, weeks_ago=1, hours=3)
    return {"supervisor": supervisor, "on_track": on_track, "behind": behind, "overdue": overdue, "other": other}


def rows(page: str) -> int:
    return page.count('class="intern-row"')


def test_one_row_per_own_intern_with_hours_overdue_tasks_and_last_log(team: dict[str, Any]) -> None:
    page = signed_in(team["supervisor"]).get(DASHBOARD).content.decode()
    assert rows(page) == 3
    for name in ("Aisha Rahman", "Daniel Ong", "Xiaoyu Chen"):
        assert name in page
    assert "Na Li" not in page and "Harbour Labs" not in page  # another company's intern
    assert "9.0 / 20" in page and "22.0 / 20" in page and "12.0 / 20" in page
    this_week = week_start_of(timezone.localdate()).isoformat()
    assert f"week of {this_week}" in page


def test_filters_behind_on_hours_and_overdue(team: dict[str, Any]) -> None:
    client = signed_in(team["supervisor"])
    behind = client.get(DASHBOARD + "?show=behind").content.decode()
    assert rows(behind) == 1 and "Daniel Ong" in behind
    overdue = client.get(DASHBOARD + "?show=overdue").content.decode()
    assert rows(overdue) == 1 and "Xiaoyu Chen" in overdue


def test_approving_many_interns_weeks_at_once(team: dict[str, Any]) -> None:
    client = signed_in(team["supervisor"])
    last_week = week_start_of(timezone.localdate()) - timedelta(days=7)
    chosen = list(
        WeekLog.objects.filter(placement__in=[team["behind"], team["overdue"]], week_start=last_week).values_list(
            "pk", flat=True
        )
    )
    response = client.post("/en/internships/supervise/approve/", {"logs": chosen})
    assert response.status_code == 302
    approved = WeekLog.objects.filter(approved_at__isnull=False)
    assert set(approved.values_list("pk", flat=True)) == set(chosen)
    assert all(entry.approved_by == team["supervisor"] for entry in approved)
    assert "2 week(s) approved" in client.get(DASHBOARD).content.decode()


def test_approving_one_week_from_the_interns_page(team: dict[str, Any]) -> None:
    client = signed_in(team["supervisor"])
    placement = team["on_track"]
    page = client.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode()
    assert "Aisha Rahman" in page and page.count("Approve this week") == 2
    week = WeekLog.objects.filter(placement=placement).order_by("week_start").first()
    assert week is not None
    client.post("/en/internships/supervise/approve/", {"logs": [week.pk]})
    week.refresh_from_db()
    assert week.approved_at is not None
    assert (
        client.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode().count("Approve this week")
        == 1
    )


def test_a_supervisor_cannot_open_or_change_another_companys_intern(team: dict[str, Any]) -> None:
    client = signed_in(team["supervisor"])
    other = team["other"]
    opened = client.get(f"/en/internships/supervise/placements/{other.pk}/")
    assert opened.status_code == 404 and "Na Li" not in opened.content.decode()
    assert "No intern of yours has this placement." in opened.content.decode()

    tasks_before = InternTask.objects.count()
    forged_task = client.post(
        f"/en/internships/supervise/placements/{other.pk}/tasks/", {"title": "Sneaky", "deadline": "2026-12-31"}
    )
    assert forged_task.status_code == 404 and InternTask.objects.count() == tasks_before

    # Approving a mix of own and foreign weeks approves none of them, and says why.
    own = WeekLog.objects.filter(placement=team["behind"]).get()
    foreign = WeekLog.objects.filter(placement=other).get()
    mixed = client.post("/en/internships/supervise/approve/", {"logs": [own.pk, foreign.pk]})
    assert mixed.status_code == 404 and "not an intern's of yours" in html.unescape(mixed.content.decode())
    assert not WeekLog.objects.filter(approved_at__isnull=False).exists()

    foreign_task = InternTask.objects.create(placement=other, title="Theirs", deadline=timezone.localdate())
    refused = client.post(f"/en/internships/tasks/{foreign_task.pk}/status/", {"status": "done"})
    assert refused.status_code == 404
    foreign_task.refresh_from_db()
    assert foreign_task.status == "todo"


def test_trainees_and_instructors_have_no_dashboard(team: dict[str, Any]) -> None:
    for person in (team["on_track"].intern, factories.instructor()):
        assert signed_in(person).get(DASHBOARD).status_code == 403
    assert Client().get(DASHBOARD).status_code == 302  # to sign in


def test_the_supervisor_records_a_check_in_and_the_dashboard_shows_the_last(team: dict[str, Any]) -> None:
    client = signed_in(team["supervisor"])
    placement = team["behind"]
    url = f"/en/internships/supervise/placements/{placement.pk}/check-ins/"
    yesterday = timezone.localdate() - timedelta(days=1)
    for day in (yesterday - timedelta(days=7), yesterday):
        assert client.post(url, {"held_on": day.isoformat(), "notes": "Talked about the rig"}).status_code == 302
    row = client.get(DASHBOARD).content.decode().split(f'data-placement="{placement.pk}"')[1].split("</tr>")[0]
    assert yesterday.isoformat() in row
    assert (
        "Talked about the rig" in client.get(f"/en/internships/supervise/placements/{placement.pk}/").content.decode()
    )

    future = client.post(url, {"held_on": (timezone.localdate() + timedelta(days=2)).isoformat()})
    assert future.status_code == 400 and "once it has taken place" in future.content.decode()
    foreign = client.post(
        f"/en/internships/supervise/placements/{team['other'].pk}/check-ins/", {"held_on": yesterday.isoformat()}
    )
    assert foreign.status_code == 404
    assert placement.check_ins.count() == 2 and not team["other"].check_ins.exists()
