"""Internships' learning event as an xAPI statement (lms.xapi, docs/xapi.md): an intern "completed" a week of their
internship, queued in the transaction in which their supervisor approves the week's log."""

from __future__ import annotations

from django.utils import timezone

from internships.models import WeekLog
from internships.selectors import internship_week_number
from lms.xapi import builders
from lms.xapi.services import xapi_enabled, xapi_statement_queue


def xapi_internship_week_completed(*, week_log: WeekLog) -> None:
    """Call inside the approving transaction: a rollback takes the statement with it."""
    if not xapi_enabled():
        return
    placement = week_log.placement
    xapi_statement_queue(
        statement=builders.internship_week_completed(
            placement_id=placement.pk,
            week=internship_week_number(placement=placement, week_start=week_log.week_start),
            user_id=placement.intern_id,
            company=placement.internship.company.name,
            course=None,
            at=week_log.approved_at or timezone.now(),
        )
    )
