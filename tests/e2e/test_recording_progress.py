"""The course page follows a session's recording while a worker prepares it: the bar and its percentage move, and
the download appears when it is ready, without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from classrooms.models import SessionState
from streaming.models import CompositionState, SessionComposition
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, enrol
from tests.support.browser import SignIn

pytestmark = pytest.mark.e2e


def test_the_course_page_follows_the_recording_until_it_can_be_downloaded(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    session = LiveSessionFactory.create(
        course=course, instructor=factories.instructor(), state=SessionState.ENDED, recorded=True, title="Week 4"
    )
    composition = SessionComposition.objects.create(session=session, state=CompositionState.COMPOSING, progress=40)
    trainee = factories.trainee()
    enrol(trainee, course)

    page = sign_in(trainee)
    page.goto(f"{live_server.url}{course.url}")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    item = page.locator(f'li.session-recording[data-session="{session.pk}"]')
    expect(item.locator("[data-composition-text]")).to_have_text("The recording is being prepared, 40 %")
    expect(item.locator("progress")).to_have_attribute("value", "40")

    SessionComposition.objects.filter(pk=composition.pk).update(progress=75)
    expect(item.locator("[data-composition-text]")).to_have_text("The recording is being prepared, 75 %")
    expect(item.locator("progress")).to_have_js_property("value", 75)

    SessionComposition.objects.filter(pk=composition.pk).update(state=CompositionState.STORED, progress=100)
    download = item.get_by_role("link", name="Download the recording")
    expect(download).to_be_visible()
    watch = reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk})
    assert download.get_attribute("href") == watch
    expect(item).to_have_attribute("data-composition", "stored")
    assert page.evaluate("window.sameDocument") is True
