"""The embedded scheduler: runs Celery beat's schedule in-process when there is no broker.

`make run` starts it beside the web server, so scheduled publishing (and every
other periodic task) works without anyone running a command by hand. With
REDIS_URL set, run `celery -A lms beat` and a worker instead.
"""

import time
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the periodic tasks of CELERY_BEAT_SCHEDULE in-process (the embedded default's beat)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run every periodic task once, then exit.")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        # Celery imports the apps' tasks modules when a worker starts; this process is not a worker.
        current_app.loader.import_default_modules()
        schedule: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
        next_run = dict.fromkeys(schedule, 0.0)
        while True:
            now = time.monotonic()
            for name, entry in schedule.items():
                if now >= next_run[name]:
                    self._run(name, entry["task"])
                    interval: timedelta = entry["schedule"]
                    next_run[name] = now + interval.total_seconds()
            if once:
                return
            time.sleep(max(1.0, min(next_run.values()) - time.monotonic()))

    def _run(self, name: str, task_name: str) -> None:
        try:
            current_app.tasks[task_name].apply(throw=True)
        except Exception as exc:  # keep the scheduler alive; the next tick retries
            self.stderr.write(f"periodic task {name} failed: {exc!r}")
