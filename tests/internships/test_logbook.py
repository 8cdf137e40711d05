"""The intern's logbook (issue 16, item 10): weekly entries with hours per day, tasks from the supervisor, files
stored in the intern's region and opened only by those who may, and reminders when a week's log is missing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from internships.models import InternTask, LogFile, LogReminder, TaskStatus, WeekLog
from internships.selectors import week_start_of
from internships.services import log_reminders_send_due
from lms.regions import storage_for_region
from tests import factories

pytestmark = pytest.mark.django_db

MINE = "/en/internships/"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def log_week(client: Client, placement: Any, week_start: Any, hours: list[str], **extra: str) -> Any:
    prefix = f"p{placement.pk}-"
    data = {f"{prefix}week_start": week_start.isoformat(), f"{prefix}done": "Wired the conveyor sensors"}
    data |= {f"{prefix}hours_{index}": value for index, value in enumerate(hours)}
    data |= {f"{prefix}{key}": value for key, value in extra.items()}
    return client.post(f"/en/internships/placements/{placement.pk}/log/", data)


def test_an_intern_logs_a_week_corrects_it_and_sees_it_in_their_logbook() -> None:
    placement = factories.placement()
    client = signed_in(placement.intern)
    this_week = week_start_of(timezone.localdate())
    response = log_week(client, placement, this_week, ["8", "7.5", "", "6", "4", "0", "0"], blockers="VPN drops")
    assert response.status_code == 302
    log = WeekLog.objects.get()
    assert log.total_hours == 25.5 and log.daily_hours == [8, 7.5, 0, 6, 4, 0, 0] and log.blockers == "VPN drops"

    log_week(client, placement, this_week, ["8", "8", "8", "0", "0", "0", "0"])  # a correction, same week
    log.refresh_from_db()
    assert WeekLog.objects.count() == 1 and log.total_hours == 24
    page = client.get(MINE).content.decode()
    assert f"Week of {this_week.isoformat()}: 24.0 hours" in page and "Awaiting approval" in page
    assert "Automation intern" in page and "Lion City Robotics" in page


@pytest.mark.parametrize(
    ("week", "hours", "message"),
    [
        (lambda today: week_start_of(today) + timedelta(days=1), ["1"] * 7, "A week starts on a Monday"),
        (lambda today: week_start_of(today) + timedelta(days=7), ["1"] * 7, "a week that has not started"),
        (lambda today: week_start_of(today) - timedelta(days=70), ["1"] * 7, "outside the internship"),
        (
            lambda today: week_start_of(today),
            ["25", "1", "1", "1", "1", "1", "1"],
            "Mon: Ensure this value is less than or equal to 24",
        ),
    ],
)
def test_a_wrong_week_is_refused_and_nothing_is_logged(week: Any, hours: list[str], message: str) -> None:
    placement = factories.placement()
    response = log_week(signed_in(placement.intern), placement, week(timezone.localdate()), hours)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WeekLog.objects.exists()


def test_an_approved_week_can_no_longer_change() -> None:
    placement = factories.placement()
    week = week_start_of(timezone.localdate()) - timedelta(days=7)
    client = signed_in(placement.intern)
    log_week(client, placement, week, ["5"] * 5 + ["0", "0"])
    WeekLog.objects.update(approved_at=timezone.now(), approved_by=placement.supervisor)
    response = log_week(client, placement, week, ["1"] * 7)
    assert response.status_code == 409 and "approved and can no longer change" in response.content.decode()
    assert WeekLog.objects.get().total_hours == 25


def test_an_intern_cannot_log_on_anothers_placement() -> None:
    mine, theirs = factories.placement(), factories.placement(company_name="Harbour Labs")
    response = log_week(signed_in(mine.intern), theirs, week_start_of(timezone.localdate()), ["8"] * 7)
    assert response.status_code == 404 and not WeekLog.objects.exists()


def test_a_file_is_stored_in_the_interns_region_and_opened_only_by_intern_supervisor_and_coordinator() -> None:
    intern = factories.trainee(home_region="chongqing")
    placement = factories.placement(intern=intern)
    client = signed_in(intern)
    log_week(client, placement, week_start_of(timezone.localdate()), ["8"] * 5 + ["0", "0"])
    log = WeekLog.objects.get()
    upload = SimpleUploadedFile("sensor-map.txt", b"conveyor 1: ok", content_type="text/plain")
    assert client.post(f"/en/internships/logs/{log.pk}/files/", {"file": upload}).status_code == 302
    stored = LogFile.objects.get()
    assert stored.storage_region == "chongqing" and stored.filename == "sensor-map.txt"
    assert storage_for_region("chongqing").open(stored.storage_key).read() == b"conveyor 1: ok"
    assert "sensor-map.txt" in client.get(MINE).content.decode()

    for person in (intern, placement.supervisor, placement.coordinator):
        viewer = signed_in(person)
        link = viewer.get(f"/en/internships/files/{stored.pk}/")
        assert link.status_code == 302
        download = viewer.get(link["Location"])
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == b"conveyor 1: ok"  # type: ignore[attr-defined]
        # The signed link is the person's own: another signed-in person cannot use it.
        assert signed_in(factories.trainee()).get(link["Location"]).status_code == 404

    other_supervisor = factories.placement(company_name="Harbour Labs").supervisor
    for stranger in (factories.trainee(), other_supervisor, factories.instructor()):
        assert signed_in(stranger).get(f"/en/internships/files/{stored.pk}/").status_code == 404


def test_another_intern_cannot_attach_a_file_to_my_week() -> None:
    placement = factories.placement()
    log_week(signed_in(placement.intern), placement, week_start_of(timezone.localdate()), ["8"] * 7)
    log = WeekLog.objects.get()
    upload = SimpleUploadedFile("x.txt", b"x", content_type="text/plain")
    response = signed_in(factories.trainee()).post(f"/en/internships/logs/{log.pk}/files/", {"file": upload})
    assert response.status_code == 404 and not LogFile.objects.exists()


def test_the_supervisor_sets_a_task_and_the_intern_completes_it() -> None:
    placement = factories.placement()
    supervisor = signed_in(placement.supervisor)
    deadline = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = supervisor.post(
        f"/en/internships/supervise/placements/{placement.pk}/tasks/",
        {"title": "Draft the test plan", "description": "Two pages", "deadline": deadline},
    )
    assert response.status_code == 302
    task = InternTask.objects.get()
    assert (task.title, task.status, task.created_by) == ("Draft the test plan", TaskStatus.TODO, placement.supervisor)

    intern = signed_in(placement.intern)
    assert "Draft the test plan" in intern.get(MINE).content.decode()
    assert intern.post(f"/en/internships/tasks/{task.pk}/status/", {"status": "done"}).status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.completed_at is not None

    # Someone else's intern cannot touch it.
    stranger = signed_in(factories.trainee())
    assert stranger.post(f"/en/internships/tasks/{task.pk}/status/", {"status": "todo"}).status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_a_missing_week_is_reminded_once_by_email_in_the_interns_language(
    django_capture_on_commit_callbacks: Any,
) -> None:
    logged = factories.placement()
    missing = factories.placement(intern=factories.trainee(preferred_language="zh-hans"), company_name="Harbour Labs")
    now = timezone.now()
    last_week = week_start_of(timezone.localdate(now)) - timedelta(days=7)
    WeekLog.objects.create(placement=logged, week_start=last_week, total_hours=20, submitted_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert log_reminders_send_due(now=now) == 1
    [message] = mail.outbox
    assert message.to == [missing.intern.email] and last_week.isoformat() in message.subject
    assert "/zh-hans/internships/" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        assert log_reminders_send_due(now=now + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1 and LogReminder.objects.get().placement == missing


def test_no_reminder_before_an_internship_starts_or_after_it_ends(django_capture_on_commit_callbacks: Any) -> None:
    today = timezone.localdate()
    factories.placement(start=today + timedelta(days=10))
    factories.placement(start=today - timedelta(weeks=30), weeks=4, company_name="Harbour Labs")
    with django_capture_on_commit_callbacks(execute=True):
        assert log_reminders_send_due(now=datetime.now(ZoneInfo("UTC"))) == 0
    assert mail.outbox == []


def test_the_reminder_task_is_scheduled(settings: Any) -> None:
    [entry] = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if "internships" in entry["task"]]
    assert entry["task"] == "internships.tasks.send_log_reminders"
