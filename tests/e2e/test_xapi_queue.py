"""The xAPI queue in Chromium: with the learning record store (a real Ralph) down, a trainee's enrolment waits as a
failing statement; an administrator finds it from the admin menu, with its error, brings the LRS back and presses
"Retry now": the statement is sent, and Ralph holds it."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from courses import services as course_services
from lms.xapi.services import xapi_statements_send
from tests import factories
from tests.support.browser import SignIn
from tests.support.ralph import Ralph, ralph_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def ralph_down(tmp_path: Path, settings: Any) -> Iterator[Ralph]:
    """Corridor pointed at a Ralph that is not running yet."""
    server = ralph_server(tmp_path / "ralph")
    server.configure(settings)
    try:
        yield server
    finally:
        server.stop()


def test_an_administrator_sees_a_failing_statement_and_retries_it_once_the_lrs_is_back(
    live_server: Any, sign_in: SignIn, site_catalogue: Any, ralph_down: Ralph, tasks_in_process: None
) -> None:
    course = factories.course_with_lessons(site_catalogue, title="Cross-border fundamentals")
    trainee = factories.trainee()
    course_services.enrolment_create(user=trainee, course=course)
    assert xapi_statements_send().failed == 1  # beat's run, while the LRS is down

    page = sign_in(factories.administrator())
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="xAPI statements").click()
    expect(page.get_by_role("heading", name="xAPI statements", exact=True)).to_be_visible()
    failing = page.locator("[data-xapi-failing] tbody tr")
    expect(failing).to_have_count(1)
    expect(failing.first).to_contain_text("registered")
    expect(failing.first).to_contain_text("LRS unreachable")
    expect(page.locator('[data-xapi-count="failing"]')).to_have_text("1")

    ralph_down.start()
    page.get_by_role("button", name="Retry now (1 statement)").click()

    expect(page.get_by_text("1 failing statement is being sent again.")).to_be_visible()
    expect(page.get_by_text("No statement is failing.")).to_be_visible()
    expect(page.locator('[data-xapi-count="sent"]')).to_have_text("1")
    [stored] = ralph_down.statements()
    assert stored["verb"]["id"] == "http://adlnet.gov/expapi/verbs/registered"
    assert stored["actor"]["account"]["name"] == str(trainee.pk)
