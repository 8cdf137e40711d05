"""Internships' xAPI hook (docs/xapi.md): when a supervisor approves a week's log, the intern "completed" that week of
the internship, queued in the approving transaction: once per week, never for a week not approved, and not at all when
the approval rolls back or no LRS is configured."""

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from internships import services
from internships.models import Placement, WeekLog
from internships.selectors import week_start_of
from lms.errors import CorridorError
from lms.xapi import builders
from lms.xapi.models import QueuedStatement
from tests import factories

pytestmark = pytest.mark.django_db

SITE = settings.CORRIDOR_PUBLIC_URL.rstrip("/")


def logged(weeks: int = 3) -> tuple[Placement, list[WeekLog]]:
    """A placement that started `weeks` + 1 weeks ago with its first `weeks` weeks logged."""
    start = week_start_of(timezone.localdate()) - timedelta(weeks=weeks + 1)
    placement = factories.placement(start=start, company_name="Yangtze Smart Manufacturing")
    logs = [
        services.week_log_submit(
            placement=placement,
            by=placement.intern,
            week_start=start + timedelta(weeks=index),
            daily_hours=[4, 4, 4, 4, 4, 0, 0],
            done="Programmed the packing cell.",
            blockers="",
        )
        for index in range(weeks)
    ]
    return placement, logs


def completed_weeks() -> list[dict[str, Any]]:
    """The queued "completed" statements, by week."""
    rows = QueuedStatement.objects.filter(statement__verb__id=builders.Verb.COMPLETED.value)
    return sorted((row.statement for row in rows), key=lambda statement: statement["object"]["id"])


@pytest.mark.usefixtures("lrs_configured")
def test_approving_weeks_queues_completed_for_each_week_once() -> None:
    placement, logs = logged()
    assert completed_weeks() == []  # logging a week is not completing it

    services.week_logs_approve(log_ids=[logs[0].pk, logs[2].pk], by=placement.supervisor)
    services.week_logs_approve(log_ids=[logs[0].pk], by=placement.supervisor)  # already approved: nothing new
    statements = completed_weeks()
    assert [statement["object"]["id"] for statement in statements] == [
        f"{SITE}/xapi/activities/internship-week/{placement.pk}/1",
        f"{SITE}/xapi/activities/internship-week/{placement.pk}/3",
    ]
    first = statements[0]
    assert first["actor"]["account"] == {"homePage": SITE, "name": str(placement.intern_id)}
    assert first["object"]["definition"] == {
        "type": f"{SITE}/xapi/activity-types/internship-week",
        "name": {"en": "Internship week 1 at Yangtze Smart Manufacturing"},
    }
    assert first["result"] == {"completion": True}
    logs[0].refresh_from_db()
    assert logs[0].approved_at is not None and first["timestamp"] == logs[0].approved_at.isoformat()

    services.week_logs_approve(log_ids=[logs[1].pk], by=placement.coordinator)  # a coordinator may approve too
    assert len(completed_weeks()) == 3


def approve_then_fail(placement: Placement, log: WeekLog) -> None:
    with transaction.atomic():
        services.week_logs_approve(log_ids=[log.pk], by=placement.supervisor)
        raise RuntimeError("the request failed after approving")


@pytest.mark.usefixtures("lrs_configured")
def test_a_refused_or_rolled_back_approval_queues_nothing() -> None:
    placement, logs = logged(weeks=1)
    with pytest.raises(CorridorError):
        services.week_logs_approve(log_ids=[logs[0].pk], by=factories.supervisor())  # not their intern
    with pytest.raises(RuntimeError):
        approve_then_fail(placement, logs[0])
    assert completed_weeks() == []
    logs[0].refresh_from_db()
    assert logs[0].approved_at is None


def test_without_an_lrs_nothing_is_queued(settings: Any) -> None:
    settings.XAPI_LRS_URL = ""
    placement, logs = logged(weeks=1)
    assert services.week_logs_approve(log_ids=[logs[0].pk], by=placement.supervisor) == 1
    assert not QueuedStatement.objects.exists()
