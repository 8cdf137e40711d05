"""The invigilator's live console in Chromium (issue 16, item 6): an invigilator opens it from the sitting's page and
sees each candidate's state; a colleague checks a candidate in at the door and the console shows it at once, without
a reload; the invigilator pauses a candidate with a cause and an explanation, logs an incident, gives the whole room
extra time, and exports the sitting's record for the exam board (CSV and PDF), which the test reads.

The candidates' side (starting a paper on the exam page) is built on another branch: `console_support.paper_start`
stands in for it here. With Redis (REDIS_URL) the channel layer crosses processes, so a start made in the test's
process reaches the server's console at once and the test checks that too; the embedded layer is in memory, in the
server's process alone, so there the first candidate has started before the console opens."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from exams import selectors, services
from exams.models import Candidate, Paper
from tests import factories
from tests.exams.console_support import paper_start, sitting_in_progress
from tests.support.browser import AsgiServer, SignIn, in_another_thread
from tests.support.pdf import pdf_text

pytestmark = [pytest.mark.e2e, pytest.mark.serial]


@pytest.fixture
def same_layer(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """The server's channel-layer prefix is this process's (by default each names its own database, and the
    server's is the test database), so a change made here reaches the server's sockets through Redis."""
    monkeypatch.setenv("CHANNEL_LAYER_PREFIX", settings.CHANNEL_LAYER_PREFIX)


@pytest.fixture
def live_server(same_layer: None, asgi_live_server: AsgiServer) -> AsgiServer:
    return asgi_live_server


def test_an_invigilator_runs_a_sitting_from_the_live_console(sign_in: SignIn, live_server: Any, e2e_db: None) -> None:
    made: dict[str, Any] = {}

    def setup() -> None:
        # Written as the server would write (a broadcast after commit cannot run in Playwright's thread).
        made["sitting"], made["candidates"], made["invigilator"] = sitting_in_progress(candidates=2)
        made["latecomer"] = services.candidate_register(
            sitting=made["sitting"],
            user=factories.trainee(first_name="Mei", last_name="Chen", name_zh="陈梅"),
            now=made["sitting"].registration_closes_at - timedelta(seconds=1),  # registered in time, late at the door
        )
        services.paper_prepare(sitting=made["sitting"])
        paper_start(made["candidates"][0])

    in_another_thread(setup)
    sitting, (first, second), invigilator, latecomer = (
        made["sitting"],
        made["candidates"],
        made["invigilator"],
        made["latecomer"],
    )
    colleague = factories.invigilator()
    sitting.room.invigilators.add(colleague)

    page = sign_in(invigilator)
    page.goto(f"{live_server.url}/en/exams/sittings/{sitting.pk}/")
    page.get_by_role("link", name="Open the invigilator's console").click()
    expect(page.get_by_role("heading", name="Invigilator's console")).to_be_visible()
    expect(page.locator("[data-console-link]")).to_have_text("Live: updates appear at once.")
    rows = page.locator("[data-console-rows] tr")
    expect(rows).to_have_count(3)
    seat = {
        n: page.locator(f'[data-console-rows] tr[data-candidate="{c.pk}"]')
        for n, c in enumerate((first, second, latecomer), 1)
    }
    expect(seat[1].locator(".state")).to_have_text("Working")
    expect(seat[2].locator(".state")).to_have_text("Checked in")
    expect(seat[3].locator(".state")).to_have_text("Not checked in")
    expect(page.locator('[data-count="checked_in"]')).to_have_text("2")
    page.evaluate("window.consoleNotReloaded = true")

    # A colleague checks the late candidate in at the door: the console shows it at once.
    door = sign_in(colleague)
    door.goto(f"{live_server.url}/en/exams/sittings/{sitting.pk}/check-in/")
    door.get_by_label("Slip code").fill(selectors.slip_token(candidate=latecomer))
    door.get_by_role("button", name="Find the candidate").click()
    door.get_by_role("button", name="Identity confirmed: check in").click()
    expect(door.get_by_text("Mei Chen is checked in: seat 3.")).to_be_visible()
    expect(seat[3].locator(".state")).to_have_text("Checked in")
    expect(page.locator('[data-count="checked_in"]')).to_have_text("3")

    if os.environ.get("REDIS_URL"):
        in_another_thread(lambda: paper_start(second))
        expect(seat[2].locator(".state")).to_have_text("Working")
        expect(page.locator('[data-count="started"]')).to_have_text("2")
    assert page.evaluate("window.consoleNotReloaded") is True

    # Filters: only those who started.
    page.get_by_role("button", name="Started").click()
    expect(seat[3]).to_be_hidden()
    expect(seat[1]).to_be_visible()
    page.get_by_role("button", name="All").click()
    expect(seat[3]).to_be_visible()

    # The first candidate is at work on their exam page; it stays open while the invigilator acts.
    seen_before = Paper.objects.get(candidate=first).last_seen_at
    exam_page = sign_in(first.user)
    exam_page.goto(f"{live_server.url}/en/exams/candidates/{first.pk}/exam/")
    expect(exam_page.locator("fieldset[data-question] input").first).to_be_enabled()
    expect(exam_page.locator("#exam-paused")).to_be_hidden()
    _wait_for(lambda: Paper.objects.get(candidate=first).last_seen_at != seen_before)  # its socket is connected

    # Pause the first candidate, with a cause and an explanation, from the keyboard.
    seat[1].get_by_role("link", name="Act on seat 1").click()
    target = page.get_by_label("Who").first
    expect(target).to_be_focused()
    expect(target).to_have_value(str(first.pk))
    page.keyboard.press("Tab")
    expect(page.locator("#action-kind")).to_be_focused()
    page.locator("#action-kind").select_option("pause")
    page.locator("#action-cause").select_option("health")
    page.locator("#action-explanation").fill("Felt faint; the nurse is with them.")
    page.locator("#action-explanation").press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Paused seat 1. 1 paper changed.")).to_be_visible()
    expect(seat[1].locator(".state")).to_have_text("Paused")
    log = page.locator("[data-console-log] tr")
    expect(log.last).to_contain_text("Pause")
    expect(log.last).to_contain_text("Felt faint; the nurse is with them.")
    assert Paper.objects.get(candidate=first).paused_at is not None
    # ...and on the candidate's page at once, without a reload: the banner, the answers locked.
    expect(exam_page.locator("#exam-paused")).to_be_visible()
    expect(exam_page.locator("fieldset[data-question] input").first).to_be_disabled()

    # Log an incident about the second candidate.
    seat[2].get_by_role("link", name="Incident at seat 2").click()
    page.locator("#incident-category").select_option("misconduct")
    page.get_by_label("What happened").fill("Phone visible under the desk.")
    page.get_by_role("button", name="Log the incident").click()
    expect(page.get_by_text("Incident logged for seat 2.")).to_be_visible()
    expect(log.last).to_contain_text("Suspected misconduct")
    expect(seat[2].locator("td").nth(7)).to_have_text("1")

    # Ten minutes of extra time for the whole room.
    page.locator("#action-target").select_option("room")
    page.locator("#action-kind").select_option("extra_time")
    page.get_by_label("Extra time (minutes)").fill("10")
    page.locator("#action-cause").select_option("emergency")
    page.locator("#action-explanation").fill("Fire alarm drill.")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Gave the whole room 10 minutes of extra time. 3 papers changed.")).to_be_visible()
    expect(seat[3].locator(".time-left")).to_contain_text("1:10:00")
    expect(log.last).to_contain_text("Fire alarm drill.")

    # The record for the exam board.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export the sitting's record (CSV)").click()
    with open(download_info.value.path(), encoding="utf-8-sig") as downloaded:
        lines = list(csv.reader(io.StringIO(downloaded.read())))
    by_seat = {line[0]: line for line in lines if line and line[0] in {"1", "2", "3"}}
    assert by_seat["3"][2] == "Mei Chen · 陈梅" and by_seat["3"][3] != "" and by_seat["3"][7] == "10.0"
    assert by_seat["1"][4] != "" and by_seat["2"][10] == "1"
    log_lines = [(line[1], line[2], line[5], line[7]) for line in lines if len(line) == 9 and line[1] != "Record"]
    assert log_lines == [
        ("Action", "Pause", "1", "Felt faint; the nurse is with them."),
        ("Incident", "Suspected misconduct", "2", "Phone visible under the desk."),
        ("Action", "Extra time", "Whole room", "Fire alarm drill."),
    ]
    # The same record as a PDF, to print and sign.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="The record as PDF, to print").click()
    with open(download_info.value.path(), "rb") as pdf_file:
        text = pdf_text(pdf_file.read())
    for expected in ("Sitting record for the exam board", "Mei Chen · 陈梅", "Fire alarm drill.", "Page 1 of 1"):
        assert expected in text
    assert Candidate.objects.get(pk=latecomer.pk).checked_in_by == colleague


def _wait_for(condition: Any, *, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)
