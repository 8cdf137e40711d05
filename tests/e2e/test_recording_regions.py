"""An instructor sees where their session's recordings are stored and chooses another region for the new ones, from
the course page, in English and in Chinese; files already stored say where they stay."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classrooms.models import SessionState
from streaming.models import CompositionState, Recording, RecordingState, SessionComposition, SessionRecordingsRegion
from tests import factories
from tests.classrooms.factories import LiveSessionFactory
from tests.support.browser import SignIn

pytestmark = pytest.mark.e2e


def test_an_instructor_sees_and_chooses_where_a_sessions_recordings_are_stored(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    instructor = factories.instructor(home_region="singapore")
    session = LiveSessionFactory.create(
        course=course, instructor=instructor, state=SessionState.ENDED, recorded=True, title="Week 5"
    )
    Recording.objects.create(
        session=session,
        publisher="Marina Bay Studio",
        state=RecordingState.STORED,
        storage_key="recordings/session/1-marina.webm",
        storage_region="singapore",
        started_at=timezone.now(),
        duration_s=60,
    )
    SessionComposition.objects.create(
        session=session,
        state=CompositionState.STORED,
        progress=100,
        storage_key="recordings/session/session.mp4",
        storage_region="singapore",
        duration_s=60,
    )

    page = sign_in(instructor)
    page.goto(f"{live_server.url}{course.url}")
    item = page.locator(f'li.session-recording[data-session="{session.pk}"]')
    expect(item.locator(".stored-in").first).to_have_text("· Stored in: Singapore")
    item.get_by_role("link", name="Where recordings are stored").click()

    expect(page.locator("[data-recordings-region]")).to_have_text(
        "New recordings of this session are stored in: Singapore"
    )
    expect(page.locator(".stored-files li")).to_have_count(2)
    page.get_by_label("Store this session's recordings in").select_option("chongqing")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("New recordings of this session will be stored in Chongqing.")
    expect(page.locator("[data-recordings-region]")).to_have_text(
        "New recordings of this session are stored in: Chongqing"
    )
    # What is stored stays where it went.
    expect(page.locator(".stored-files .stored-in").first).to_have_text("Stored in: Singapore")
    assert SessionRecordingsRegion.objects.get(session=session).region == "chongqing"

    # In Chinese: the same page, the same control (found by what it is, not its words); back to the site's rule.
    page.goto(page.url.replace("/en/", "/zh-hans/"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator("select[name=region]").select_option("")
    page.locator(".session-storage button[type=submit]").click()
    expect(page.locator(".messages .message.success")).to_have_count(1)
    expect(page.locator("select[name=region]")).to_have_value("")
    assert not SessionRecordingsRegion.objects.filter(session=session).exists()
