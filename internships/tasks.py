"""Periodic work for internships, run by Celery beat (or `manage.py run_scheduler` on the embedded default)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from internships.services import log_reminders_send_due


@shared_task(name="internships.tasks.send_log_reminders")
def send_log_reminders() -> int:
    """Remind interns whose last week has no log (each week once); beat runs this every hour."""
    return log_reminders_send_due(now=timezone.now())
