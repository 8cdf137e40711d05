"""An intern's logbooks, tasks and files are in their data export and go when they are erased (docs/privacy.md)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from internships import services
from internships.models import EVALUATION_CRITERIA, Evaluation, InternTask, LogFile, Placement, WeekLog
from internships.selectors import week_start_of
from lms.accounts.services import data_export_request, user_erase
from lms.regions import storage_for_region
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_here(tasks_in_process: None) -> None:
    """The export is built where it is queued."""


def logged_intern() -> tuple[Placement, LogFile]:
    placement = factories.placement(intern=factories.trainee(first_name="Meilin", last_name="Quenneville"))
    log = services.week_log_submit(
        placement=placement,
        by=placement.intern,
        week_start=week_start_of(timezone.localdate()),
        daily_hours=[8, 8, 8, 0, 0, 0, 0],
        done="Meilin wired the conveyor",
        blockers="",
    )
    file = services.log_file_attach(
        week_log=log, by=placement.intern, upload=SimpleUploadedFile("map.txt", b"sensor map", "text/plain")
    )
    services.intern_task_create(
        placement=placement, by=placement.supervisor, title="Test plan", description="", deadline=timezone.localdate()
    )
    scores = {key: 4 for key, _label in EVALUATION_CRITERIA}
    services.evaluation_submit(
        placement=placement, by=placement.intern, kind="self", scores=scores, comments={}, summary="I learnt a lot"
    )
    services.evaluation_submit(
        placement=placement,
        by=placement.supervisor,
        kind="final",
        scores=scores,
        comments={"quality": "Meilin Quenneville checks her work"},
        summary="Meilin passes",
        passed=True,
    )
    return placement, file


def test_the_export_holds_the_logbook_tasks_and_files(django_capture_on_commit_callbacks: Any) -> None:
    placement, file = logged_intern()
    with django_capture_on_commit_callbacks(execute=True):
        export = data_export_request(user=placement.intern, by=placement.intern)
    export.refresh_from_db()
    with storage_for_region(export.storage_region).open(export.storage_key, "rb") as stored:
        archive = zipfile.ZipFile(io.BytesIO(stored.read()))
    data = json.loads(archive.read("data.json"))
    [record] = data["internships"]["placements"]
    assert record["company"] == "Lion City Robotics" and record["week_logs"][0]["done"] == "Meilin wired the conveyor"
    assert record["week_logs"][0]["files"] == ["map.txt"] and record["tasks"][0]["title"] == "Test plan"
    assert {row["kind"] for row in record["evaluations"]} == {"self", "final"}
    assert archive.read(f"files/internships/{file.pk}-map.txt") == b"sensor map"


def test_erasing_an_intern_removes_their_logbook_tasks_and_stored_files(
    django_capture_on_commit_callbacks: Any,
) -> None:
    placement, file = logged_intern()
    storage = storage_for_region(file.storage_region)
    assert storage.exists(file.storage_key)
    with django_capture_on_commit_callbacks(execute=True):
        counts = user_erase(user=placement.intern, by=placement.coordinator, reason="Asked in writing")
    assert counts["internships"] == {"log_files": 1, "week_logs": 1, "tasks": 1, "self_evaluations": 1}
    assert not WeekLog.objects.exists() and not LogFile.objects.exists() and not InternTask.objects.exists()
    # The supervisor's final evaluation stays (the record a certificate rests on), without the person's name.
    final = Evaluation.objects.get()
    assert final.kind == "final" and final.passed is True
    placeholder = f"Erased user {placement.intern.pk}"
    assert final.comments["quality"] == f"{placeholder} checks her work" and final.summary == f"{placeholder} passes"
    assert not storage.exists(file.storage_key)
    assert Placement.objects.filter(pk=placement.pk).exists()  # the record that the internship took place
