"""The operator console's alerts in Chromium: two real room agents report; the test kills one, and the operator's
console shows its room agent offline and the alert banner (and the operator has an email); the agent comes back and
the alert clears by itself. The room's link-quality charts draw the agent's figures.

The periodic check runs here as the embedded scheduler would run it (`manage.py run_scheduler`, every 3 s); the
clearing on recovery happens in the server, on the returning agent's first report.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from playwright.sync_api import expect

from classrooms.models import Alert
from classrooms.tasks import check_alerts
from tests import factories
from tests.support.agents import RoomAgentProcess
from tests.support.browser import AsgiServer, Class, SignIn, wait_for_js

pytestmark = [pytest.mark.e2e, pytest.mark.serial]


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    return asgi_live_server


@pytest.fixture
def scheduler() -> Iterator[None]:
    """`check_alerts` every second in a thread, as run_scheduler runs beat's schedule under `make run`."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(1.0):
                try:
                    check_alerts.apply(throw=True)
                except Exception as error:  # as the scheduler does: the next tick tries again
                    print(f"check_alerts failed: {error!r}")
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="alerts-scheduler", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def test_a_killed_agent_raises_the_alert_and_its_return_clears_it(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class, tmp_path: Path, scheduler: None
) -> None:
    operator = factories.operator(first_name="Ravi", last_name="Kumar", email="ravi@example.com")
    live_class.singapore.operators.add(operator)
    live_class.chongqing.operators.add(operator)
    agents: dict[str, Any] = {
        "singapore": RoomAgentProcess(server=live_server, room=live_class.singapore, log=tmp_path / "sg.log"),
        "chongqing": RoomAgentProcess(server=live_server, room=live_class.chongqing, log=tmp_path / "cq.log"),
    }
    try:
        console = sign_in(operator)
        console.goto(f"{live_server.url}/en/live/rooms/{live_class.singapore.pk}/devices/")
        agent_state = console.locator(".agent-state .device-status").first
        expect(agent_state).to_have_text("Online", timeout=30_000)
        banner = console.locator("[data-alerts-banner]")
        expect(banner).to_be_hidden()

        # The Chongqing room's charts draw its agent's figures (round trip, loss, jitter, bitrate).
        charts = sign_in(operator)
        charts.goto(f"{live_server.url}/en/live/rooms/{live_class.chongqing.pk}/links/")
        expect(charts.get_by_text("One media node: no cross-border link.")).to_be_visible()
        wait_for_js(
            charts,
            "Number(document.querySelector('[data-room-link-charts] [data-line-chart]:last-child')"
            "?.dataset.points || 0) >= 2",
            timeout=40_000,
        )
        expect(charts.locator("[data-room-link-charts] polyline").first).to_be_attached()

        # The Singapore agent dies.
        agents["singapore"].process.kill()
        expect(banner).to_be_visible(timeout=30_000)
        expect(banner).to_contain_text("The room agent of Marina Bay Lab has been silent for")
        expect(agent_state).to_have_text("Offline", timeout=20_000)
        assert len(banner.locator("li").all()) == 1  # the Chongqing room is fine
        assert [message.to for message in mail.outbox] == [["ravi@example.com"]]
        assert "Marina Bay Lab" in mail.outbox[0].subject

        # It comes back: the alert clears by itself, and the record keeps when.
        agents["singapore"].stop()
        agents["singapore"] = RoomAgentProcess(server=live_server, room=live_class.singapore, log=tmp_path / "sg2.log")
        expect(agent_state).to_have_text("Online", timeout=30_000)
        expect(banner).to_be_hidden(timeout=15_000)
        cleared = list(Alert.objects.values_list("cleared_at", flat=True))
        assert len(cleared) == 1 and cleared[0] is not None
        assert len(mail.outbox) == 1  # one email per alert
    finally:
        for agent in agents.values():
            agent.stop()
            print(f"--- an agent's output ---\n{agent.output()}")
