"""A person's data in Chromium, in English and in Chinese: a trainee downloads everything held about them from their
Settings page; an administrator erases a person from the Wagtail user list, who then cannot sign in, while the
certificate issued to them still verifies."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from lms.accounts.models import User
from tests import factories
from tests.support.browser import SignIn, in_another_thread
from tests.support.personal_data import EMAIL, FIRST, LAST, Trace, person_with_everything

pytestmark = [pytest.mark.e2e, pytest.mark.real_worker]

LANGUAGES = ["en", "zh-hans"]


@pytest.fixture
def export_tasks(settings: Any, tmp_path: Any) -> Iterator[None]:
    """With a broker, a real Celery worker (in a thread) builds the archive while the page follows it; without one,
    the task runs where it is sent, as under `make run`."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    if not os.environ.get("REDIS_URL"):
        yield
        return
    from celery.contrib.testing.worker import start_worker

    from lms.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def a_person_with_everything() -> Trace:
    """Built as the server would (its live events are broadcast), not in the test's thread, where Playwright's loop
    runs."""
    built: list[Trace] = []
    in_another_thread(lambda: built.append(person_with_everything(sign_in_records=False)))
    return built[0]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_trainee_downloads_their_data_from_settings(
    language: str, sign_in: SignIn, live_server: Any, export_tasks: None, e2e_db: None
) -> None:
    trace = a_person_with_everything()
    page = sign_in(trace.user)
    page.goto(f"{live_server.url}/{language}/accounts/settings/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("[data-export-start]").click()
    expect(page.locator("[data-export-ready]")).to_be_visible(timeout=60_000)  # the page reloads itself until then
    with page.expect_download() as download_info:
        page.locator("[data-export-download]").click()
    with open(download_info.value.path(), "rb") as downloaded:
        archive = zipfile.ZipFile(io.BytesIO(downloaded.read()))
    data = json.loads(archive.read("data.json"))
    assert data["account"]["email"] == EMAIL
    assert [row["code"] for row in data["certificates"]["certificates"]] == [trace.certificate.code]
    assert archive.read(f"files/certificates/{trace.certificate.code}.pdf").startswith(b"%PDF-")
    assert data["classrooms"]["questions"][0]["text"].startswith(FIRST)

    # Back on Settings, the archive is listed; another trainee who has its address is told it does not exist.
    page.goto(f"{live_server.url}/{language}/accounts/settings/")
    export_url = page.locator("[data-your-data] li a").first.get_attribute("href")
    assert export_url
    other = sign_in(factories.trainee())
    response = other.goto(f"{live_server.url}{export_url}")
    assert response is not None and response.status == 404


def sign_in_refused(new_page: Callable[..., Page], live_server: Any, email: str) -> Page:
    page = new_page()
    page.goto(f"{live_server.url}{reverse('accounts:login')}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    return page


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_administrator_erases_a_person_who_can_no_longer_sign_in_and_whose_certificate_still_verifies(
    language: str,
    sign_in: SignIn,
    new_page: Callable[..., Page],
    live_server: Any,
    export_tasks: None,
    e2e_db: None,
) -> None:
    trace = a_person_with_everything()
    subject = trace.user
    admin = sign_in(trace.admin)

    # From Wagtail's user list: the row's menu leads to the account's personal data page.
    admin.goto(f"{live_server.url}/admin/users/?q={LAST}")
    admin.get_by_role("button", name=f"More options for '{FIRST} {LAST}'").click()
    admin.locator(f'a[href$="/accounts/users/{subject.pk}/data/"]').click()
    admin.goto(admin.url.replace("/en/", f"/{language}/", 1).replace("/zh-hans/", f"/{language}/", 1))
    expect(admin.locator("html")).to_have_attribute("lang", language)
    expect(admin.locator("[data-subject]")).to_contain_text(EMAIL)

    # A wrong confirmation is refused and changes nothing.
    form = admin.locator("[data-erase] form")
    form.locator("input[name=confirmation]").fill("someone.else@example.test")
    form.locator("textarea[name=reason]").fill("Asked by email, ticket 4711")
    form.locator("button[type=submit]").click()
    expect(admin.locator("[data-erase] .message.error")).to_be_visible()
    assert User.objects.get(pk=subject.pk).email == EMAIL

    form = admin.locator("[data-erase] form")
    form.locator("input[name=confirmation]").fill(EMAIL)
    form.locator("textarea[name=reason]").fill("Asked by email, ticket 4711")
    form.locator("button[type=submit]").click()
    expect(admin.locator("[data-erased]")).to_be_visible()
    expect(admin.locator("[data-subject]")).to_contain_text(f"Erased user {subject.pk}")
    expect(admin.locator("main")).not_to_contain_text(LAST)

    # The person can no longer sign in: the login page stays, with its error.
    refused = sign_in_refused(new_page, live_server, EMAIL)
    expect(refused.locator(".message.error")).to_be_visible()
    assert "/accounts/login/" in refused.url

    # Their certificate's code still verifies, saying what the certificate states and no more.
    visitor = new_page()
    visitor.goto(f"{live_server.url}/{language}/certificates/verify/{trace.certificate.code}/")
    expect(visitor.locator("[data-status]")).to_have_attribute("data-status", "valid")
    expect(visitor.locator("main")).to_contain_text(trace.certificate.code)
    expect(visitor.locator("main")).not_to_contain_text(EMAIL)
