"""The Content Security Policy in Chromium: every page of the main journeys, as each role uses it, reports no violation.

Each browser page gets a `securitypolicyviolation` listener before any of the site's scripts run (an init script,
which the policy does not govern), reporting to the test through an exposed function, in every frame; Chromium's
console messages about the policy are captured too. Every document the browser loads must carry the
Content-Security-Policy header. The pages run their scripts for real: the live page opens its socket and its media
connection, the admin's page editor and snippet forms start their widgets.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, Response, expect

from certificates import services as certificate_services
from certificates.models import Certificate
from classrooms.models import LiveSession
from lms.accounts.models import Cohort
from tests import factories
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread, open_media_page, wait_for_js
from tests.support.certificates import Course, course_with_rule

pytestmark = pytest.mark.e2e

LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.corridorCspViolation({
    page: document.location.href,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    sample: event.sample,
    source: `${event.sourceFile}:${event.lineNumber}`,
  });
}, true);
"""


class PolicyWatch:
    """What the pages of one test reported: violations, console messages about the policy, documents without it."""

    def __init__(self) -> None:
        self.violations: list[dict[str, Any]] = []
        self.console: list[str] = []
        self.documents: list[str] = []
        self.without_policy: list[str] = []

    def watch(self, page: Page) -> Page:
        page.expose_function("corridorCspViolation", self._violation)
        page.add_init_script(LISTEN)
        page.on("console", self._console)
        page.on("response", self._response)
        return page

    def _violation(self, report: dict[str, Any]) -> None:
        self.violations.append(report)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(f"{message.type}: {message.text}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document":
            return
        self.documents.append(response.url)
        if "content-security-policy" not in response.headers:
            self.without_policy.append(f"{response.status} {response.url}")

    def visit(self, page: Page, url: str) -> None:
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response and response.status}"
        page.wait_for_load_state("load")

    def assert_clean(self) -> None:
        assert self.documents, "no page was loaded"
        assert not self.violations, "\n".join(
            f"{v['page']}: {v['directive']} blocked {v['blocked']} at {v['source']} {v['sample']!r}"
            for v in self.violations
        )
        assert not self.console, self.console
        assert not self.without_policy, self.without_policy


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server, so the live page's socket and media connection run as they do in production."""
    return asgi_live_server


@pytest.fixture
def policy() -> PolicyWatch:
    return PolicyWatch()


class Journeys:
    """The live class (its instructor, trainees, rooms) plus a course with certificates to earn and an operator."""

    def __init__(self, live_class: Class) -> None:
        self.live_class = live_class
        self.certified: Course = course_with_rule()
        self.holder = self.certified.qualifying_trainee(first_name="Wei Ming", last_name="Tan")
        self.certificate: Certificate = certificate_services.certificate_issue(
            user=self.holder, course=self.certified.course, by=self.certified.admin
        )
        self.certified.qualifying_trainee(first_name="Aisha", last_name="Rahman")  # one to issue from the page
        Cohort.objects.create(name="Harbourfront intake").members.add(self.holder)
        self.operator = factories.operator(first_name="Ravi", last_name="Kumar")
        for room in (live_class.singapore, live_class.chongqing):
            room.operators.add(self.operator)
        # A session later today, so the timetable lists one to come as well as the live one.
        later = timezone.now() + timedelta(hours=2)
        LiveSession.objects.create(
            course=live_class.session.course,
            instructor=live_class.instructor,
            title="Follow-up clinic",
            starts_at=later,
            ends_at=later + timedelta(hours=1),
        )


@pytest.fixture
def journeys(live_class: Class) -> Journeys:
    built: list[Journeys] = []
    in_another_thread(lambda: built.append(Journeys(live_class)))
    return built[0]


def url(server: AsgiServer, name: str, *args: Any, language: str = "en") -> str:
    from django.utils import translation

    with translation.override(language):
        return f"{server.url}{reverse(name, args=args)}"


def test_a_visitor_reads_the_catalogue_and_verifies_a_certificate(
    live_server: AsgiServer, journeys: Journeys, new_page: Any, policy: PolicyWatch
) -> None:
    page = policy.watch(new_page())
    policy.visit(page, f"{live_server.url}/en/")
    page.get_by_role("link", name="Cross-border Safety").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cross-border Safety")
    policy.visit(page, f"{live_server.url}/zh-hans/")
    policy.visit(page, url(live_server, "certificates:verify-form"))
    page.get_by_role("textbox").first.fill(journeys.certificate.code)
    page.get_by_role("main").get_by_role("button").first.click()
    expect(page.get_by_role("heading", name="Valid certificate")).to_be_visible()
    policy.visit(page, url(live_server, "accounts:login"))
    policy.assert_clean()


def test_a_trainee_enrols_learns_joins_the_live_class_and_finds_their_certificate(
    live_server: AsgiServer, live_class: Class, journeys: Journeys, sign_in: SignIn, policy: PolicyWatch
) -> None:
    trainee = live_class.trainee
    in_another_thread(lambda: journeys.certified.attend(trainee, 60))
    page = sign_in(trainee)
    policy.watch(page)
    policy.visit(page, f"{live_server.url}/en/")
    page.get_by_role("link", name="Cross-border Safety").first.click()
    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")

    lessons = journeys.certified.lessons
    page.get_by_role("link", name=lessons[1].title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(lessons[1].title)
    page.get_by_label("Singapore and Chongqing").check()
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_role("button", name="Mark lesson complete").click()
    expect(page.get_by_text("You completed this lesson.")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My learning").click()
    expect(page.get_by_role("progressbar").first).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Timetable").click()
    expect(page.get_by_text("Follow-up clinic")).to_be_visible()
    open_media_page(page, live_server, live_class)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My certificates").click()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Where I am")).to_be_visible()
    policy.assert_clean()


def test_the_instructor_teaches_and_reads_attendance(
    live_server: AsgiServer, live_class: Class, journeys: Journeys, sign_in: SignIn, policy: PolicyWatch
) -> None:
    page = policy.watch(sign_in(live_class.instructor))
    expect(page).to_have_url(f"{live_server.url}/admin/")
    open_media_page(page, live_server, live_class)
    session = live_class.session.pk
    policy.visit(page, url(live_server, "classrooms:attendance-report", session))
    policy.visit(page, url(live_server, "classrooms:session-links", session))
    policy.visit(page, url(live_server, "classrooms:timetable"))
    policy.assert_clean()


def test_an_operator_runs_the_console(
    live_server: AsgiServer, live_class: Class, journeys: Journeys, sign_in: SignIn, policy: PolicyWatch
) -> None:
    page = policy.watch(sign_in(journeys.operator))
    policy.visit(page, f"{live_server.url}/en/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rooms").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    room = live_class.singapore.pk
    policy.visit(page, url(live_server, "classrooms:room-devices", room))
    policy.visit(page, url(live_server, "classrooms:room-device-new", room))
    policy.visit(page, url(live_server, "classrooms:room-links", room))
    policy.visit(page, url(live_server, "classrooms:attendance-roster", live_class.session.pk, room))
    policy.visit(page, url(live_server, "classrooms:attendance-display", live_class.session.pk, room))
    expect(page.locator("svg.qr-code")).to_be_visible()
    policy.assert_clean()


def test_an_administrator_issues_certificates_and_edits_in_the_admin(
    live_server: AsgiServer, live_class: Class, journeys: Journeys, sign_in: SignIn, policy: PolicyWatch
) -> None:
    certified = journeys.certified
    page = policy.watch(sign_in(certified.admin))
    expect(page).to_have_url(f"{live_server.url}/admin/")  # the Wagtail dashboard
    expect(page.get_by_role("main")).to_be_visible()

    policy.visit(page, f"{live_server.url}/en/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Certificates", exact=True).click()
    page.get_by_role("link", name="Cross-border Safety").click()
    expect(page.get_by_role("heading", name="Eligibility")).to_be_visible()
    expect(page.get_by_role("img", name="2 of 2").first).to_be_visible()  # a criterion's bar, an SVG now
    page.get_by_role("button", name="Issue to everyone who qualifies").click()
    expect(page.get_by_role("progressbar", name="Certificates issued")).to_be_visible()
    page.go_back()
    page.reload()
    page.get_by_label("Cohort").select_option(label="Harbourfront intake")  # applies at once (a script file)
    expect(page).to_have_url(re.compile(r"\?cohort=\d+"))
    expect(page.locator(f'tr[data-user="{journeys.holder.email}"]')).to_be_visible()

    policy.visit(page, url(live_server, "classrooms:audit-log"))
    admin = f"{live_server.url}/admin"
    policy.visit(page, f"{admin}/pages/")
    policy.visit(page, f"{admin}/pages/{certified.course.pk}/edit/")
    expect(page.get_by_role("textbox", name="Title*")).to_have_value("Cross-border Safety")
    policy.visit(page, f"{admin}/pages/{certified.lessons[1].pk}/edit/")  # a StreamField with a quiz
    expect(page.get_by_role("button", name="Insert a block").first).to_be_visible()
    policy.visit(page, f"{admin}/snippets/")
    policy.visit(page, reverse_admin(live_server, "wagtailsnippets_classrooms_livesession:list"))
    policy.visit(page, reverse_admin(live_server, "wagtailsnippets_classrooms_livesession:add"))
    # Wagtail's choosers and pickers still start (their initialisers run from a static file, lms/admin_scripts.py).
    page.get_by_role("button", name="Choose a page (Course)").click()
    expect(page.get_by_role("dialog").get_by_role("heading", name="Choose Course")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="Close").first.click()
    policy.visit(page, reverse_admin(live_server, "wagtailsnippets_classrooms_livesession:edit", live_class.session.pk))
    page.get_by_label("Starts at*").click()
    expect(page.locator(".xdsoft_datetimepicker").first).to_be_visible()
    policy.visit(page, reverse_admin(live_server, "wagtailsnippets_classrooms_room:list"))
    policy.visit(page, reverse_admin(live_server, "wagtailsnippets_accounts_cohort:add"))
    policy.visit(page, f"{admin}/documents/")
    policy.visit(page, f"{admin}/images/")
    policy.visit(page, f"{admin}/users/")
    policy.assert_clean()


def reverse_admin(server: AsgiServer, name: str, *args: Any) -> str:
    return f"{server.url}{reverse(name, args=args)}"


def test_the_watch_sees_a_violation(live_server: AsgiServer, e2e_db: None, new_page: Any) -> None:
    """The listener is live: a style attribute a script writes into the page is reported (so a quiet run means
    the pages had none, not that nothing listened)."""
    policy = PolicyWatch()
    page = policy.watch(new_page())
    policy.visit(page, f"{live_server.url}/en/accounts/login/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<div style=\"color: red\">x</div>')")
    wait_for_js(page, "document.querySelector('div[style]') !== null")
    page.wait_for_timeout(300)  # the report is delivered to the test asynchronously
    assert any(violation["directive"] == "style-src-attr" for violation in policy.violations), policy.violations
    assert policy.console, "Chromium reports the blocked attribute on the console"
