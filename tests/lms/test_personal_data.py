"""Exporting everything held about a person, and erasing them (lms.accounts.services; docs/privacy.md)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from certificates.verification import certificate_verify
from classrooms.models import AttendanceRecord, AuditEntry, LiveEvent, Question
from classrooms.selectors.qa import question_payload
from lms.accounts.models import DataExport, DataExportState, User
from lms.accounts.services import data_export_request, data_exports_expire, user_erase
from lms.errors import CorridorError
from lms.regions import storage_for_region
from streaming.models import Publication, Recording
from tests.factories import PASSWORD
from tests.support.personal_data import EMAIL, FIRST, LAST, NAME_ZH, RECORDING_BYTES, Trace, mentions_anywhere
from tests.support.personal_data import person_with_everything as build

pytestmark = pytest.mark.django_db

# Kept on purpose (docs/privacy.md): a certificate states its holder's name, as printed, and must still verify.
CERTIFICATE_AS_PRINTED = frozenset(
    {"certificates.Certificate.name_en", "certificates.Certificate.name_zh", "certificates.Certificate.credential"}
)


@pytest.fixture
def trace(tasks_in_process: None, django_capture_on_commit_callbacks: Any) -> Trace:
    with django_capture_on_commit_callbacks(execute=True):
        return build()


def _archive(export: DataExport) -> zipfile.ZipFile:
    with storage_for_region(export.storage_region).open(export.storage_key, "rb") as stored:
        return zipfile.ZipFile(io.BytesIO(stored.read()))


def test_the_export_holds_every_kind_of_record_and_the_persons_files(
    trace: Trace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        export = data_export_request(user=trace.user, by=trace.user)
    export.refresh_from_db()
    assert export.state == DataExportState.READY and export.progress == 100
    assert export.expires_at is not None and export.expires_at > timezone.now() + timedelta(days=6)

    archive = _archive(export)
    data = json.loads(archive.read("data.json"))
    assert data["format"] == "corridor-personal-data/1"
    account = data["account"]
    assert (account["email"], account["first_name"], account["last_name"], account["name_zh"]) == (
        EMAIL,
        FIRST,
        LAST,
        NAME_ZH,
    )
    assert account["roles"] == ["trainee"]
    assert account["two_step_devices"] == [{"name": "authenticator", "confirmed": True}]
    assert account["sign_in_attempts"][0]["address"] == "203.0.113.7"
    assert "password" not in json.dumps(account) and trace.user.calendar_token not in archive.read("data.json").decode()

    learning = data["learning"]
    assert [row["course"] for row in learning["enrolments"]] == ["Cross-border Safety"]
    assert len(learning["completed_lessons"]) == 2

    classrooms = data["classrooms"]
    assert [row["text"] for row in classrooms["questions"]] == [f"{FIRST} here: is the exam open book?"]
    assert classrooms["question_votes"][0]["question"] == f"{FIRST} here: is the exam open book?"
    assert classrooms["poll_votes"] == [{"poll": "Ready?", "choice": "Yes", "session_id": trace.session.pk}]
    assert len(classrooms["raised_hands"]) == 1 and classrooms["checkins"][0]["room"] == "Harbour Room"
    assert {row["session_id"] for row in classrooms["attendance"]} == {trace.session.pk, trace.session.pk - 1}
    assert classrooms["audit_log"][0]["action"] == "question.ask"

    media = data["media"]
    assert [row["label"] for row in media["publications"]] == [f"{FIRST} {LAST}"]
    [recording] = media["recordings"]
    assert archive.read(recording["file"]) == RECORDING_BYTES

    [certificate] = data["certificates"]["certificates"]
    assert certificate["code"] == trace.certificate.code and certificate["name_zh"] == NAME_ZH
    assert archive.read(certificate["pdf"]).startswith(b"%PDF-")
    assert json.loads(archive.read(certificate["credential"]))["credentialSubject"]["name"].startswith(FIRST)
    assert all(entry["found"] for entry in data["files"]) and len(data["files"]) == 3
    assert "learning" in archive.read("README.txt").decode()

    # The other trainee's records are not in it.
    assert "Raghunathan" not in archive.read("data.json").decode()


def test_an_export_already_under_way_is_not_started_twice(trace: Trace) -> None:
    first = DataExport.objects.create(user=trace.user, requested_by=trace.user)
    assert data_export_request(user=trace.user, by=trace.user) == first


def test_a_failed_build_says_so_on_the_export(
    trace: Trace, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lms.accounts import services

    def broken(**kwargs: Any) -> Any:
        raise OSError("storage unreachable")

    monkeypatch.setattr(
        services, "checksummed_writer", lambda *args, **kwargs: type("W", (), {"upload": staticmethod(broken)})()
    )
    with pytest.raises(OSError, match="storage unreachable"), django_capture_on_commit_callbacks(execute=True):
        data_export_request(user=trace.user, by=trace.user)
    export = DataExport.objects.get(user=trace.user)
    assert export.state == DataExportState.FAILED and "storage unreachable" in export.error


def test_expired_archives_are_deleted_from_storage(trace: Trace, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        export = data_export_request(user=trace.user, by=trace.user)
    export.refresh_from_db()
    assert storage_for_region(export.storage_region).exists(export.storage_key)
    assert data_exports_expire(now=timezone.now() + timedelta(days=6)) == 0
    assert data_exports_expire(now=timezone.now() + timedelta(days=8)) == 1
    assert not storage_for_region(export.storage_region).exists(export.storage_key)
    export.refresh_from_db()
    assert export.state == DataExportState.EXPIRED


def test_erasure_leaves_nothing_that_names_the_person(trace: Trace, django_capture_on_commit_callbacks: Any) -> None:
    assert mentions_anywhere(trace.words, ignore=CERTIFICATE_AS_PRINTED)  # the search finds them before
    old_key = trace.recording.storage_key
    with django_capture_on_commit_callbacks(execute=True):
        export = data_export_request(user=trace.user, by=trace.user)
    export.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        counts = user_erase(user=trace.user, by=trace.admin, reason="Asked in writing, ticket 42")

    assert mentions_anywhere(trace.words, ignore=CERTIFICATE_AS_PRINTED) == []
    user = User.objects.get(pk=trace.user.pk)
    placeholder = f"Erased user {user.pk}"
    assert user.get_full_name() == placeholder and not user.is_active and not user.has_usable_password()
    assert counts["classrooms"]["live_events"] >= 3 and counts["media"]["files_moved"] == 1

    # Questions are kept for the class record, shown as the erased user; attendance is kept as anonymous counts.
    question = Question.objects.get(pk=trace.question.pk)
    assert question_payload(question)["author"] == placeholder
    assert question.text == f"{placeholder} here: is the exam open book?"
    assert AttendanceRecord.objects.filter(session=trace.session).count() == 2
    assert not any(FIRST in json.dumps(event.payload) for event in LiveEvent.objects.all())

    # The recording is stored again under a key without the name; the old object is gone.
    recording = Recording.objects.get(pk=trace.recording.pk)
    assert recording.publisher == placeholder and "meilin" not in recording.storage_key.lower()
    assert storage_for_region(recording.storage_region).open(recording.storage_key).read() == RECORDING_BYTES
    assert not storage_for_region(recording.storage_region).exists(old_key)
    assert Publication.objects.get(user=user).label == placeholder

    # Their archive went with them; the classmate's records are untouched.
    assert (
        not storage_for_region(export.storage_region).exists(export.storage_key)
        and not DataExport.objects.filter(user=user).exists()
    )
    assert Question.objects.filter(author=trace.other).get().text == f"Same question as {placeholder}, and when is it?"
    assert User.objects.get(pk=trace.other.pk).last_name == "Raghunathan"

    # The certificate still verifies, stating what it always stated and nothing more.
    trace.certificate.refresh_from_db()
    outcome = certificate_verify(certificate=trace.certificate)
    assert outcome.status == "valid" and trace.certificate.name_en == f"{FIRST} {LAST}"

    # The audit log says who erased which account and why, by its number only.
    entry = AuditEntry.objects.get(action="user.erase")
    assert entry.actor_id == trace.admin.pk and entry.target == f"user {user.pk}"
    assert entry.details["reason"] == "Asked in writing, ticket 42"


def test_an_erased_person_can_no_longer_sign_in(trace: Trace) -> None:
    client = Client()
    assert client.login(email=EMAIL, password=PASSWORD)
    user_erase(user=trace.user, by=trace.admin, reason="asked")
    assert client.get("/en/accounts/settings/").status_code == 302  # the open session ends with the account
    assert not Client().login(email=EMAIL, password=PASSWORD)
    assert not Client().login(email=f"erased-{trace.user.pk}@erased.invalid", password=PASSWORD)


def test_erasing_needs_a_reason_and_happens_once(trace: Trace) -> None:
    with pytest.raises(CorridorError, match="reason"):
        user_erase(user=trace.user, by=trace.admin, reason="  ")
    user_erase(user=trace.user, by=trace.admin, reason="asked")
    with pytest.raises(CorridorError) as refused:
        user_erase(user=User.objects.get(pk=trace.user.pk), by=trace.admin, reason="again")
    assert refused.value.code == "already_erased"
    with pytest.raises(CorridorError):
        data_export_request(user=User.objects.get(pk=trace.user.pk), by=trace.admin)


def test_on_s3_the_archive_downloads_by_presigned_url_and_erasure_moves_the_recording(
    s3_storage: Any, tasks_in_process: None, django_capture_on_commit_callbacks: Any
) -> None:
    import urllib.request

    from tests.support.s3 import BUCKET

    with django_capture_on_commit_callbacks(execute=True):
        trace = build()
        export = data_export_request(user=trace.user, by=trace.user)
    export.refresh_from_db()
    assert export.state == DataExportState.READY
    client = Client()
    client.force_login(trace.user)
    url = client.get(f"/en/accounts/data/exports/{export.pk}/download/")["Location"]
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url) as response:
        assert response.headers["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    assert json.loads(archive.read("data.json"))["account"]["email"] == EMAIL

    old_key = trace.recording.storage_key
    with django_capture_on_commit_callbacks(execute=True):
        user_erase(user=trace.user, by=trace.admin, reason="asked")
    keys = [item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert old_key not in keys and export.storage_key not in keys
    assert Recording.objects.get(pk=trace.recording.pk).storage_key in keys
    assert not [key for key in keys if "meilin" in key.lower() or "quenneville" in key.lower()]
