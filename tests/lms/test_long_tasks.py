"""Long work without a broker (the embedded default): it runs in a thread of its own, so whoever asked for it (an
End request, the media thread that closed the last recording) returns at once; with a broker it is queued."""

from __future__ import annotations

import queue
import threading
from typing import Any

from lms.celery import delay_long


class Work:
    """Stands in for a Celery task: notes where `delay` ran."""

    name = "work"

    def __init__(self) -> None:
        self.ran: queue.Queue[tuple[threading.Thread, tuple[Any, ...]]] = queue.Queue()

    def delay(self, *args: Any) -> None:
        self.ran.put((threading.current_thread(), args))


def test_without_a_broker_long_work_runs_in_a_thread_of_its_own(settings: Any, tasks_in_process: None) -> None:
    settings.CELERY_LONG_TASKS_IN_THREAD = True
    work = Work()
    delay_long(work, 7)
    thread, args = work.ran.get(timeout=10)
    assert thread is not threading.current_thread() and args == (7,)


def test_the_tests_settings_and_a_broker_keep_it_where_it_was_sent(settings: Any, tasks_in_process: None) -> None:
    work = Work()
    delay_long(work, 8)  # lms.settings.test: inline, for results tests can check at once
    assert work.ran.get_nowait() == (threading.current_thread(), (8,))

    from lms.celery import app

    settings.CELERY_LONG_TASKS_IN_THREAD = True
    app.conf.task_always_eager = False  # a broker: `delay` queues it (here: straight to Work.delay)
    delay_long(work, 9)
    assert work.ran.get_nowait() == (threading.current_thread(), (9,))
