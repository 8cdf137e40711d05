"""The internship certificate in Chromium, on the demo: the coordinator (an administrator) opens the internship
programme's course among the certificates, sees the rule's "completed internship" criterion ticked, saves the rule,
reads why an intern still under way does not qualify, and issues the certificate of the demo's intern who has
completed; anyone then verifies it by its code at the public verification page, which names the internship and the
company."""

from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect
from wagtail.models import Locale

from certificates.models import Certificate
from courses import services as course_services
from courses.models import CoursePage
from internships.demo import COMPLETED_COMPANY
from lms.accounts.models import User
from lms.demo import DEMO_PASSWORD, INTERNSHIP_COURSE_CODE
from tests.support.browser import SignIn, in_another_thread

pytestmark = [pytest.mark.e2e]

COURSE_TITLE = "Industrial attachment: automation engineering"
INTERNSHIP = f"Production line automation intern at {COMPLETED_COMPANY}"


def test_the_coordinator_issues_the_demo_interns_certificate_and_anyone_verifies_it(
    sign_in: SignIn, new_page: Any, live_server: Any, settings: Any, tmp_path: Any, e2e_db: None
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CORRIDOR_PUBLIC_URL = live_server.url
    settings.DEBUG = True  # load_demo runs only under DEBUG
    # Loaded as `make run` loads it, outside Playwright's thread: the demo's writes push to open pages after commit.
    in_another_thread(lambda: call_command("load_demo"))
    settings.DEBUG = False
    course = CoursePage.objects.get(code=INTERNSHIP_COURSE_CODE, locale=Locale.objects.get(language_code="en"))
    # An intern still under way (a week awaiting approval, no final evaluation) is enrolled too.
    under_way = User.objects.get(email="trainee.sg@corridor.example")
    course_services.enrolment_create(user=under_way, course=course)
    completed = User.objects.get(email="chen.xiaoyu@corridor.example")

    admin = sign_in(User.objects.get(email="admin@corridor.example"), password=DEMO_PASSWORD)
    admin.goto(f"{live_server.url}/en/")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Certificates", exact=True).click()
    admin.get_by_role("link", name=COURSE_TITLE).click()
    criterion = "A completed internship (final evaluation passed, every logged week approved)"
    expect(admin.locator(".rule-summary")).to_contain_text(criterion)

    # The criterion is a box on the rule form: ticked, saved as a new version.
    admin.get_by_text("Change the rule").click()
    expect(admin.get_by_label(criterion)).to_be_checked()
    admin.get_by_label("Signatory (English)").fill("Ms Zhou Hong, Internship Coordinator")
    admin.get_by_role("button", name="Save rule").click()
    expect(admin.get_by_text("Rule version 2 saved.")).to_be_visible()

    expect(admin.locator('[data-count="qualifying"]')).to_have_text("1")
    waiting = admin.locator(f'tr[data-user="{under_way.email}"]')
    expect(waiting).to_contain_text(
        "Has not completed the internship Automation engineering intern at Lion City Robotics: the supervisor's final "
        "evaluation is not written yet; 1 logged week awaits the supervisor's approval."
    )
    row = admin.locator(f'tr[data-user="{completed.email}"]')
    expect(row).to_contain_text(INTERNSHIP)
    row.get_by_role("button", name="Issue now").click()
    certificate = Certificate.objects.get(user=completed)
    expect(admin.get_by_text(f"Certificate {certificate.code} issued to Xiaoyu Chen.")).to_be_visible()
    assert Certificate.objects.count() == 1

    # Anyone, signed in or not, checks the code at the public verification page.
    visitor = new_page()
    visitor.goto(f"{live_server.url}{reverse('certificates:verify-form')}")
    visitor.get_by_label("Certificate code").fill(certificate.code.lower())
    visitor.get_by_role("button", name="Verify").click()
    expect(visitor.get_by_role("heading", name="Valid certificate")).to_be_visible()
    expect(visitor.locator('[data-field="internship"]')).to_have_text(INTERNSHIP)
    expect(visitor.get_by_text(COURSE_TITLE)).to_be_visible()
    expect(visitor.locator('[data-field="signature"]')).to_have_text("Ed25519 signature checked")
