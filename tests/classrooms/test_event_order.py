"""A session's events commit in id order, so resuming after the last id seen skips nothing."""

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from classrooms.models import LiveEvent
from classrooms.realtime import broadcast_on_commit

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_later_event_waits_for_an_earlier_one_to_commit(live: Any) -> None:
    first_written, release_first = threading.Event(), threading.Event()
    ids: dict[str, int] = {}
    order: list[str] = []

    def slow() -> None:
        try:
            with transaction.atomic():
                ids["slow"] = broadcast_on_commit(live.session, "session.state", {"state": "live"}).pk
                first_written.set()
                release_first.wait(timeout=10)
                order.append("slow")
        finally:
            connection.close()

    def quick() -> None:
        try:
            with transaction.atomic():
                ids["quick"] = broadcast_on_commit(live.session, "session.state", {"state": "live"}).pk
                order.append("quick")
        finally:
            connection.close()

    slow_thread = threading.Thread(target=slow)
    slow_thread.start()
    assert first_written.wait(timeout=10)
    quick_thread = threading.Thread(target=quick)
    quick_thread.start()
    quick_thread.join(timeout=0.5)
    assert quick_thread.is_alive(), "the second event committed while the first was still open"
    release_first.set()
    slow_thread.join(timeout=10)
    quick_thread.join(timeout=10)

    assert order == ["slow", "quick"]
    assert ids["slow"] < ids["quick"]
    assert list(LiveEvent.objects.filter(session=live.session).order_by("pk").values_list("pk", flat=True)) == [
        ids["slow"],
        ids["quick"],
    ]
