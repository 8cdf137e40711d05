"""The data export's Celery tasks: the archive is built by a task (in process on the embedded default, by a worker on
Redis), and the hourly sweep that deletes expired archives is scheduled."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings

from lms.accounts.models import DataExport, DataExportState
from lms.accounts.tasks import build_data_export, expire_data_exports
from lms.celery import app
from lms.regions import storage_for_region
from tests import factories


def _data(export: DataExport) -> dict[str, Any]:
    with (
        storage_for_region(export.storage_region).open(export.storage_key, "rb") as stored,
        zipfile.ZipFile(stored) as archive,
    ):
        return json.loads(archive.read("data.json"))


@pytest.mark.django_db
def test_the_task_builds_the_archive(tasks_in_process: None) -> None:
    user = factories.trainee(first_name="Siew Ling", last_name="Ong")
    export = DataExport.objects.create(user=user, requested_by=user)
    assert build_data_export.delay(export.pk).get() == DataExportState.READY
    export.refresh_from_db()
    assert export.progress == 100 and _data(export)["account"]["first_name"] == "Siew Ling"


def test_expired_archives_are_swept_every_hour() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-data-exports"]
    assert schedule["task"] == expire_data_exports.name and schedule["schedule"] == timedelta(hours=1)
    assert expire_data_exports.name in app.tasks


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_celery_worker_builds_the_archive(redis_url: str) -> None:
    from celery.contrib.testing.worker import start_worker

    assert app.conf.task_always_eager is False
    user = factories.trainee(first_name="Kai Wen", last_name="Lim")
    export = DataExport.objects.create(user=user, requested_by=user)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert build_data_export.delay(export.pk).get(timeout=60) == DataExportState.READY
    export.refresh_from_db()
    assert export.state == DataExportState.READY and _data(export)["account"]["last_name"] == "Lim"
