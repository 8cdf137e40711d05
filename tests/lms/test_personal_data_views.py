"""The pages of a person's data: "Download my data" and "Erase my account" on Settings, the export's page and its
signed download, and the administrators' page for one account (export, erase)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.test import Client

from classrooms.models import AuditEntry
from lms.accounts.models import DataExport, DataExportState, User
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def download(client: Client, export: DataExport) -> dict[str, Any]:
    response = client.get(f"/en/accounts/data/exports/{export.pk}/download/")
    assert response.status_code == 302
    file = client.get(response["Location"])
    assert file.status_code == 200 and file["Content-Type"] == "application/zip"
    assert "attachment" in file["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(file.getvalue())) as archive:
        return json.loads(archive.read("data.json"))


def test_a_trainee_downloads_their_data_from_settings(
    tasks_in_process: None, django_capture_on_commit_callbacks: Any
) -> None:
    user = factories.trainee(first_name="Hui Min", last_name="Goh")
    client = signed_in(user)
    settings_page = client.get("/en/accounts/settings/").content.decode()
    assert "Download my data" in settings_page and "Erase my account" in settings_page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/en/accounts/settings/data/export/")
    export = DataExport.objects.get(user=user)
    assert response["Location"] == f"/en/accounts/data/exports/{export.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Download the archive" in page and 'http-equiv="refresh"' not in page
    assert download(client, export)["account"]["email"] == user.email


def test_a_pending_export_page_follows_its_progress() -> None:
    user = factories.trainee()
    export = DataExport.objects.create(user=user, requested_by=user, state=DataExportState.RUNNING, progress=40)
    page = signed_in(user).get(f"/en/accounts/data/exports/{export.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page and "40%" in page and "Download the archive" not in page


def test_nobody_else_reaches_someones_export(tasks_in_process: None, django_capture_on_commit_callbacks: Any) -> None:
    owner, other = factories.trainee(), factories.trainee()
    owner_client = signed_in(owner)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post("/en/accounts/settings/data/export/")
    export = DataExport.objects.get(user=owner)
    link = owner_client.get(f"/en/accounts/data/exports/{export.pk}/download/")["Location"]

    stranger = signed_in(other)
    for url in (f"/en/accounts/data/exports/{export.pk}/", f"/en/accounts/data/exports/{export.pk}/download/", link):
        assert stranger.get(url).status_code == 404, url
    assert signed_in(factories.instructor()).get(f"/en/accounts/data/exports/{export.pk}/").status_code == 404
    # An administrator reaches it, with a link of their own (the owner's link works only for the owner).
    admin = signed_in(factories.administrator())
    assert admin.get(link).status_code == 404
    assert download(admin, export)["account"]["id"] == owner.pk


def test_an_administrator_exports_and_erases_an_account(
    tasks_in_process: None, django_capture_on_commit_callbacks: Any
) -> None:
    subject = factories.trainee(first_name="Jia Hui", last_name="Ng", email="jiahui.ng@example.test")
    admin_user = factories.administrator()
    admin = signed_in(admin_user)
    page = admin.get(f"/en/accounts/users/{subject.pk}/data/").content.decode()
    assert "jiahui.ng@example.test" in page and "Erase this account" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/en/accounts/users/{subject.pk}/data/export/")
    export = DataExport.objects.get(user=subject)
    assert response["Location"] == f"/en/accounts/data/exports/{export.pk}/"
    assert export.requested_by == admin_user and download(admin, export)["account"]["email"] == subject.email

    refused = admin.post(
        f"/en/accounts/users/{subject.pk}/erase/", {"confirmation": "someone@example.test", "reason": "asked"}
    )
    assert refused.status_code == 400 and "not this account" in refused.content.decode()
    no_reason = admin.post(f"/en/accounts/users/{subject.pk}/erase/", {"confirmation": subject.email, "reason": ""})
    assert no_reason.status_code == 400
    assert User.objects.get(pk=subject.pk).email == "jiahui.ng@example.test"

    with django_capture_on_commit_callbacks(execute=True):
        erased = admin.post(
            f"/en/accounts/users/{subject.pk}/erase/", {"confirmation": "JiaHui.Ng@example.test ", "reason": "PDPA"}
        )
    assert erased.status_code == 302
    after = admin.get(erased["Location"]).content.decode()
    assert "can no longer sign in" in after and "jiahui.ng" not in after
    assert not Client().login(email="jiahui.ng@example.test", password=PASSWORD)
    assert AuditEntry.objects.get(action="user.erase").details["reason"] == "PDPA"


def test_only_administrators_reach_the_accounts_data_page() -> None:
    subject = factories.trainee()
    for person in (factories.trainee(), factories.instructor(), factories.operator()):
        client = signed_in(person)
        assert client.get(f"/en/accounts/users/{subject.pk}/data/").status_code == 403
        assert client.post(f"/en/accounts/users/{subject.pk}/data/export/").status_code == 403
        erase = {"confirmation": subject.email, "reason": "x"}
        assert client.post(f"/en/accounts/users/{subject.pk}/erase/", erase).status_code == 403
    assert User.objects.get(pk=subject.pk).is_active and not DataExport.objects.exists()


def test_a_person_erases_their_own_account_with_their_password() -> None:
    user = factories.trainee(email="wei.lun@example.test")
    client = Client()
    assert client.login(email="wei.lun@example.test", password=PASSWORD)
    wrong = client.post(
        "/en/accounts/settings/erase/", {"confirmation": "wei.lun@example.test", "password": "not-it", "reason": ""}
    )
    assert wrong.status_code == 400 and "password is not right" in wrong.content.decode()
    assert User.objects.get(pk=user.pk).is_active

    done = client.post(
        "/en/accounts/settings/erase/", {"confirmation": "wei.lun@example.test", "password": PASSWORD, "reason": ""}
    )
    assert done.status_code == 302
    assert client.get("/en/accounts/settings/").status_code == 302  # signed out
    assert not Client().login(email="wei.lun@example.test", password=PASSWORD)
    assert AuditEntry.objects.get(action="user.erase").actor_id == user.pk


def test_the_wagtail_user_list_offers_export_or_erase_to_administrators() -> None:
    subject = factories.trainee()
    page = signed_in(factories.administrator()).get("/admin/users/").content.decode()
    assert f"/en/accounts/users/{subject.pk}/data/" in page and "Export or erase personal data" in page
