"""Internships in Chromium: the coordinator places a trainee with a company supervisor, who signs in with the emailed
link and sets a task; the intern logs a week, attaches a file and completes the task; the supervisor approves the
week from the dashboard's checkboxes; the intern evaluates themselves and the supervisor writes the final evaluation."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from internships.models import Evaluation, InternTask, LogFile, Placement, WeekLog
from tests import factories
from tests.support.browser import SignIn

pytestmark = [pytest.mark.e2e]


def test_a_coordinator_places_an_intern_the_supervisor_sets_a_task_and_approves_the_logged_week(
    sign_in: SignIn, new_page: Any, live_server: Any, settings: Any, tmp_path: Path, site_catalogue: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.WAGTAILADMIN_BASE_URL = live_server.url
    coordinator = factories.administrator(first_name="Ada", last_name="Tan")
    intern = factories.trainee(first_name="Mei", last_name="Lim")
    today = timezone.localdate()

    # The coordinator: a company, an internship, a placement.
    admin = sign_in(coordinator)
    admin.goto(f"{live_server.url}/en/")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Internships", exact=True).click()
    admin.get_by_label("Company name").fill("Lion City Robotics")
    admin.get_by_label("City").select_option("singapore")
    admin.get_by_label("Address").fill("1 Fusionopolis Way")
    admin.get_by_role("button", name="Add company").click()
    expect(admin.get_by_text("Lion City Robotics added.")).to_be_visible()
    admin.get_by_label("Host company").select_option(label="Lion City Robotics")
    admin.get_by_label("Internship title").fill("Automation intern")
    admin.get_by_label("Start", exact=True).fill((today - timedelta(days=14)).isoformat())
    admin.get_by_label("End", exact=True).fill((today + timedelta(days=120)).isoformat())
    admin.get_by_label("Target hours per week").fill("20")
    admin.get_by_role("button", name="Add internship").click()
    expect(admin.get_by_text("Automation intern added.")).to_be_visible()
    admin.get_by_label("Internship", exact=True).select_option(label="Automation intern (Lion City Robotics)")
    admin.get_by_label("Intern (a trainee)").select_option(label=f"Mei Lim <{intern.email}>")
    admin.get_by_label("Supervisor's email").fill("grace.ho@lioncity.example")
    admin.get_by_label("Supervisor's first name").fill("Grace")
    admin.get_by_label("Supervisor's last name").fill("Ho")
    admin.get_by_role("button", name="Place intern").click()
    expect(admin.get_by_text("grace.ho@lioncity.example was emailed a sign-in link")).to_be_visible()
    expect(admin.locator("table.placements")).to_contain_text("Mei Lim")

    # The supervisor follows the emailed link, signs in and sets a task.
    [invitation] = [message for message in mail.outbox if message.to == ["grace.ho@lioncity.example"]]
    link = re.search(r"https?://\S+/sign-in/\S+/\S+/", str(invitation.body))
    assert link is not None
    supervisor = new_page()
    supervisor.goto(link.group(0))
    expect(supervisor.get_by_role("heading", name="Welcome, Grace Ho")).to_be_visible()
    supervisor.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(supervisor.get_by_role("heading", name="My interns")).to_be_visible()
    supervisor.get_by_role("link", name="Mei Lim").click()
    supervisor.get_by_label("Task").fill("Draft the sensor test plan")
    supervisor.get_by_label("Deadline").fill((today + timedelta(days=3)).isoformat())
    supervisor.get_by_role("button", name="Set task").click()
    expect(supervisor.get_by_text("Task “Draft the sensor test plan” set.")).to_be_visible()
    supervisor.get_by_label("Notes").fill("First weekly call")
    supervisor.get_by_role("button", name="Record a check-in").click()
    expect(supervisor.locator(".check-ins")).to_contain_text("First weekly call")

    # The intern logs the week, attaches a file and completes the task.
    trainee = sign_in(intern)
    trainee.goto(f"{live_server.url}/en/")
    trainee.get_by_role("navigation", name="Main").get_by_role("link", name="My internship").click()
    expect(trainee.get_by_role("heading", name="Automation intern")).to_be_visible()
    for day, hours in (("Mon", "8"), ("Tue", "7.5"), ("Wed", "6")):
        trainee.get_by_label(day, exact=True).fill(hours)
    trainee.get_by_label("What I did").fill("Wired the conveyor's sensors")
    trainee.get_by_label("Blockers").fill("Waiting for the test rig")
    trainee.get_by_role("button", name="Save this week's log").click()
    expect(trainee.get_by_text("21.5 hours").first).to_be_visible()
    notes = tmp_path / "sensor-map.txt"
    notes.write_text("conveyor 1: ok")
    trainee.locator('input[type="file"]').set_input_files(str(notes))
    trainee.get_by_role("button", name="Attach", exact=True).click()
    expect(trainee.get_by_role("link", name="sensor-map.txt")).to_be_visible()
    trainee.get_by_label("Status").select_option("done")
    trainee.get_by_role("button", name="Update").click()
    expect(trainee.get_by_text("Task “Draft the sensor test plan” updated.")).to_be_visible()

    # The supervisor sees the week on the dashboard, ticks it and approves.
    supervisor.get_by_role("link", name="My interns").first.click()
    row = supervisor.locator("tr.intern-row", has_text="Mei Lim")
    expect(row).to_contain_text("21.5 / 20")
    expect(row.locator(".last-check-in")).to_have_text(today.isoformat())
    row.get_by_role("checkbox").check()
    supervisor.get_by_role("button", name="Approve the selected weeks").click()
    expect(supervisor.get_by_text("1 week(s) approved.")).to_be_visible()
    supervisor.get_by_role("link", name="Mei Lim").click()
    expect(supervisor.locator(".week-log")).to_contain_text("Approved")
    with supervisor.expect_download() as download:
        supervisor.get_by_role("link", name="sensor-map.txt").click()
    assert Path(download.value.path()).read_text() == "conveyor 1: ok"

    # The intern evaluates themselves; the supervisor writes the final evaluation, and the internship is completed.
    trainee.get_by_role("link", name="Write my self-evaluation").click()
    for fieldset in trainee.locator("fieldset.criterion").all():
        fieldset.get_by_label("4").check()
    trainee.get_by_label("Overall").fill("I learnt to test sensors")
    trainee.get_by_role("button", name="Submit the evaluation").click()
    expect(trainee.get_by_text("Self-evaluation submitted.")).to_be_visible()

    supervisor.get_by_role("link", name="Write the final evaluation").click()
    criteria = supervisor.locator("fieldset.criterion")
    for index in range(5):
        criteria.nth(index).get_by_label("5").check()
    supervisor.get_by_label("Comment on Initiative").fill("Asks good questions")
    supervisor.get_by_label("Passed", exact=True).check()
    supervisor.get_by_role("button", name="Submit the evaluation").click()
    expect(supervisor.get_by_text("Final evaluation submitted.")).to_be_visible()
    expect(supervisor.locator(".completion")).to_contain_text("Internship completed")
    expect(supervisor.locator('.evaluation[data-kind="final"]')).to_contain_text("Asks good questions")
    trainee.reload()
    expect(trainee.locator('.evaluation[data-kind="final"]')).to_contain_text("Passed")

    placement = Placement.objects.get()
    assert placement.supervisor.email == "grace.ho@lioncity.example"
    assert WeekLog.objects.get().approved_by == placement.supervisor
    assert InternTask.objects.get().status == "done" and LogFile.objects.count() == 1
    assert (
        Evaluation.objects.get(kind="final").passed is True
        and Evaluation.objects.get(kind="self").scores["skills"] == 4
    )
