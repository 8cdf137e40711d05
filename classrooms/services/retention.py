"""Retention: what a live session leaves behind is deleted once it is older than its configured age.

- `RETENTION_LIVE_EVENTS_DAYS`: the sessions' outboxes (`LiveEvent`), which only a page catching up reads.
- `RETENTION_ATTENDANCE_DETAIL_DAYS`: each trainee's stays and room check-ins. Their attendance record stays, with
  the seconds they attended (`attended_seconds`, the same clipped union the report and certificates compute) and
  their recording consent, so the report and certificate eligibility read the same minutes afterwards.

0 (or empty) keeps them forever. A session's age counts from when it ended (`live_until`, else its scheduled end);
a session still live is never touched. Work goes in batches, each in its own transaction, so a run that dies midway
has deleted whole batches and nothing else, and the next run carries on (the recordings' part is in
`streaming.services.recordings_expire`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from classrooms.models import AttendanceCheckin, AttendanceRecord, AttendanceStay, LiveEvent, LiveSession, SessionState
from classrooms.selectors.attendance import attendance_report

BATCH_SIZE = 500


def retention_cutoff(days: int | None, *, now: datetime | None = None) -> datetime | None:
    """The moment before which a session's data of that kind is deleted; None when it is kept forever."""
    if not days or days <= 0:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def sessions_over_before(cutoff: datetime) -> QuerySet[LiveSession]:
    """Sessions that are not live and ended (or, never started, were scheduled to end) before `cutoff`."""
    return (
        LiveSession.objects.exclude(state=SessionState.LIVE)
        .annotate(over_at=Coalesce("live_until", "ends_at"))
        .filter(over_at__lt=cutoff)
    )


def live_events_expire(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete the outbox events of sessions over for longer than RETENTION_LIVE_EVENTS_DAYS. Returns how many."""
    cutoff = retention_cutoff(settings.RETENTION_LIVE_EVENTS_DAYS, now=now)
    if cutoff is None:
        return 0
    old_sessions = sessions_over_before(cutoff).values("pk")
    deleted = 0
    while True:
        ids = list(
            LiveEvent.objects.filter(session__in=old_sessions, created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted
        count, _detail = LiveEvent.objects.filter(pk__in=ids).delete()
        deleted += count


@transaction.atomic
def _session_attendance_prune(*, session: LiveSession, now: datetime) -> int:
    """Keep each record's attended seconds, then delete the session's stays and check-ins, in one transaction."""
    records = list(AttendanceRecord.objects.select_for_update().filter(session=session))
    report = {row.user_id: row.seconds for row in attendance_report(session=session, now=now).rows}
    for record in records:
        if record.detail_pruned_at is None:
            record.attended_seconds = report.get(record.user_id, 0)
            record.detail_pruned_at = now
    AttendanceRecord.objects.bulk_update(records, ["attended_seconds", "detail_pruned_at"])
    stays, _detail = AttendanceStay.objects.filter(record__session=session).delete()
    checkins, _detail = AttendanceCheckin.objects.filter(session=session).delete()
    return stays + checkins


def attendance_detail_expire(*, now: datetime | None = None, batch_size: int = 50) -> int:
    """Summarise and delete the stays and check-ins of sessions over for longer than
    RETENTION_ATTENDANCE_DETAIL_DAYS, one session per transaction. Returns how many rows were deleted."""
    now = now or timezone.now()
    cutoff = retention_cutoff(settings.RETENTION_ATTENDANCE_DETAIL_DAYS, now=now)
    if cutoff is None:
        return 0
    deleted = 0
    while True:
        sessions = list(
            sessions_over_before(cutoff)
            .filter(Q(attendance__stays__isnull=False) | Q(checkins__isnull=False))
            .distinct()
            .order_by("pk")[:batch_size]
        )
        if not sessions:
            return deleted
        for session in sessions:
            deleted += _session_attendance_prune(session=session, now=now)
