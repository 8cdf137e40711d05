"""Certificates in Chromium: the administrator's eligibility report, bulk issuing with its progress bar,
verification from the QR code, revocation; the trainee's download of their PDF."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp
from django.urls import reverse
from playwright.sync_api import expect

from certificates.models import Certificate
from tests.support.browser import SignIn
from tests.support.certificates import course_with_rule
from tests.support.pdf import pdf_page_image, pdf_text

pytestmark = [pytest.mark.e2e, pytest.mark.real_worker]


@pytest.fixture
def issuing_tasks(settings: Any, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[None]:
    """With a broker, a real Celery worker (in a thread) issues while the page polls; without one, tasks run
    where they are sent, as under `make run`."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    if not os.environ.get("REDIS_URL"):
        yield
        return
    from celery.contrib.testing.worker import start_worker

    from lms.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def test_an_administrator_issues_verifies_and_revokes_and_the_trainee_downloads(
    sign_in: SignIn, live_server: Any, settings: Any, issuing_tasks: None, e2e_db: None
) -> None:
    settings.CORRIDOR_PUBLIC_URL = live_server.url
    setup = course_with_rule()
    ready = [
        setup.qualifying_trainee(first_name="Wei Ming", last_name="Tan", name_zh="陈伟明"),
        setup.qualifying_trainee(first_name="Aisha", last_name="Rahman"),
        setup.qualifying_trainee(first_name="Xiaoyu", last_name="Chen", name_zh="陈晓雨"),
    ]
    short = setup.add_trainee(first_name="Daniel", last_name="Ong")
    setup.attend(short, 30)

    admin = sign_in(setup.admin)
    admin.goto(f"{live_server.url}/en/")  # administrators land in the authoring admin; the site's menu is here
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Certificates", exact=True).click()
    admin.get_by_role("link", name="Cross-border Safety").click()
    expect(admin.get_by_role("heading", name="Eligibility")).to_be_visible()
    expect(admin.locator('[data-count="qualifying"]')).to_have_text("3")
    expect(admin.locator(f'tr[data-user="{short.email}"]')).to_contain_text(
        "Attended 50 % of live minutes; needs 80 % (30 points short)."
    )

    admin.get_by_role("button", name="Issue to everyone who qualifies").click()
    expect(admin.get_by_role("heading", name="Issuing certificates")).to_be_visible()
    bar = admin.get_by_role("progressbar", name="Certificates issued")
    expect(bar).to_have_attribute("aria-valuenow", "3", timeout=60_000)
    expect(admin.locator('[data-field="remaining"]')).to_have_text("0")
    expect(admin.get_by_role("status").filter(has_text="Finished.")).to_be_visible()
    admin.reload()  # the progress is read back from the server, not kept in the page
    expect(bar).to_have_attribute("aria-valuenow", "3")
    assert Certificate.objects.count() == 3

    # The trainee downloads their PDF from "My certificates".
    holder = ready[0]
    certificate = Certificate.objects.get(user=holder)
    trainee = sign_in(holder)
    trainee.get_by_role("navigation", name="Main").get_by_role("link", name="My certificates").click()
    with trainee.expect_download() as download_info:
        trainee.get_by_role("link", name="Download PDF").click()
    with open(download_info.value.path(), "rb") as downloaded:
        document = downloaded.read()
    assert document.startswith(b"%PDF-")
    text = pdf_text(document)
    assert "Wei Ming Tan" in text and "陈伟明" in text and certificate.code in text
    page_image = pdf_page_image(document, dpi=150)
    [qr] = zxingcpp.read_barcodes(page_image)
    qr_url = qr.text
    assert qr_url == f"{live_server.url}{reverse('verify:page', args=[certificate.code])}"

    # Anyone can follow the QR code; the administrator revokes from the same page.
    admin.goto(qr_url)
    expect(admin.get_by_role("heading", name="Valid certificate")).to_be_visible()
    expect(admin.get_by_text("Wei Ming Tan")).to_be_visible()
    admin.get_by_label("Reason (verifiers will see it)").fill("Issued against the wrong enrolment.")
    admin.get_by_role("button", name="Revoke this certificate").click()
    expect(admin.get_by_role("heading", name="This certificate has been revoked")).to_be_visible()
    expect(admin.get_by_text("Issued against the wrong enrolment.")).to_be_visible()

    visitor = trainee.context.browser.new_context().new_page()  # type: ignore[union-attr]
    visitor.goto(qr_url)
    expect(visitor.locator('[data-status="revoked"]')).to_be_visible()
    visitor.context.close()
