"""Reads for the xAPI queue's page."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from lms.xapi.models import QueuedStatement, StatementState


def xapi_queue_counts() -> dict[str, int]:
    """How many statements are in each state (every state named, 0 when none)."""
    counts = dict.fromkeys(StatementState.values, 0)
    for row in QueuedStatement.objects.values("state").annotate(n=Count("pk")).order_by():
        counts[row["state"]] = row["n"]
    return counts


def xapi_failing_statements() -> QuerySet[QueuedStatement]:
    """Failing statements, the soonest to be tried again first."""
    return QueuedStatement.objects.filter(state=StatementState.FAILING).order_by("next_attempt_at", "created_at")
