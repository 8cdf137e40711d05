"""Periodic work for live sessions, run by Celery beat (or `manage.py run_scheduler` on the embedded default)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from classrooms.services import attendance, reminders
from classrooms.services.alerts import alerts_check
from classrooms.services.link_quality import link_samples_prune
from classrooms.services.retention import attendance_detail_expire, live_events_expire


@shared_task(name="classrooms.tasks.send_session_reminders")
def send_session_reminders() -> int:
    """Email the reminders of sessions starting soon; beat runs this every minute."""
    return reminders.session_reminders_send_due(now=timezone.now())


@shared_task(name="classrooms.tasks.close_stale_presence")
def close_stale_presence() -> int:
    """End remote stays whose sockets stopped sending heartbeats (a dead socket, a crashed process).

    Beat runs this every 10 seconds, so a dead socket is noticed within 30 + 10 seconds at worst.
    """
    return attendance.stale_presence_close()


@shared_task(name="classrooms.tasks.check_alerts")
def check_alerts() -> int:
    """Raise and clear operators' alerts (silent agents and devices, lossy links); beat runs this every 3 seconds.
    Returns how many were raised."""
    return len(alerts_check(now=timezone.now()))


@shared_task(name="classrooms.tasks.prune_link_samples")
def prune_link_samples() -> int:
    return link_samples_prune(now=timezone.now())


@shared_task(name="classrooms.tasks.expire_live_data")
def expire_live_data() -> dict[str, int]:
    """Delete live events and attendance detail past their retention (RETENTION_*_DAYS); beat runs this hourly.
    Idempotent: a second run, or a run after one that died midway, deletes only what is left."""
    now = timezone.now()
    return {
        "live_events": live_events_expire(now=now),
        "attendance_detail": attendance_detail_expire(now=now),
    }
