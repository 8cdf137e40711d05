"""xAPI delivery, run by Celery beat every 30 s (or `manage.py run_scheduler` on the embedded default)."""

from __future__ import annotations

from celery import shared_task

from lms.xapi.services import xapi_statements_send


@shared_task(name="lms.xapi.tasks.send_xapi_statements")
def send_xapi_statements() -> int:
    """Send the statements that are due to the LRS; how many were sent. A failure is kept on its rows (retried
    with backoff), never raised: the task itself has nothing to retry."""
    return xapi_statements_send().sent
