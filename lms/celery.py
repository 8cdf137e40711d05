import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import task_failure
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")

app = Celery("lms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def delay_long(task: Any, *args: Any) -> None:
    """Send long work (a recording's composition takes minutes) to a worker. Without a broker (the embedded
    default runs tasks where they are sent) it runs in a thread of its own instead, so the request or media thread
    that asked returns at once, and pages can follow its progress meanwhile. The tests' settings keep it inline
    (CELERY_LONG_TASKS_IN_THREAD), for results they can check at once."""
    if not (app.conf.task_always_eager and getattr(settings, "CELERY_LONG_TASKS_IN_THREAD", False)):
        task.delay(*args)
        return

    def run() -> None:
        try:
            task.delay(*args)
        except Exception:  # logged: there is no caller left to tell (a periodic sweep takes it up again)
            logger.exception("background task %s%r failed", getattr(task, "name", task), args)
        finally:
            connections.close_all()

    threading.Thread(target=run, name=f"task-{getattr(task, 'name', 'long')}", daemon=True).start()


@task_failure.connect
def _count_task_failure(sender: Any = None, **_kwargs: Any) -> None:
    """Every failed task, in a worker or (without a broker) in-process, is counted for /metrics."""
    from lms.metrics import celery_task_failed

    celery_task_failed(str(getattr(sender, "name", sender)))
