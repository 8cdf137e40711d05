"""Taking an exam in Chromium (issue 16, item 13): a trainee registers, downloads the admission slip, is checked in
by an invigilator who scans the slip's QR payload, starts the exam, answers, loses the connection (answers wait in
the page), the page is closed; on a new page the remaining time and every answer are there, the waiting answers
reach the server, and at time-up the server submits the paper. The test creates only what an administrator would
(the exam, its questions and rule, the room, a one-minute sitting starting shortly)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from playwright.sync_api import Page, expect

from exams.models import Answer, Candidate, Paper, PaperRule, SubmittedHow
from tests import factories
from tests.support.browser import SignIn
from tests.support.pdf import pdf_page_image

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: Any) -> Any:
    """The ASGI server instead of pytest-django's WSGI server, so the exam page reaches its websocket."""
    return asgi_live_server


def _clock_seconds(page: Page) -> int:
    minutes, seconds = page.locator("#exam-time-left").inner_text().split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


def test_a_candidate_takes_a_timed_exam_through_a_lost_connection_to_time_up(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    exam = factories.ExamFactory.create(code="SAFE-1", title="Workshop safety", duration_minutes=1)
    factories.QuestionFactory.create(
        exam=exam,
        text="Which extinguisher for an electrical fire?",
        choices=[{"id": "a", "text": "CO2"}, {"id": "b", "text": "Water"}],
    )
    factories.QuestionFactory.create(
        exam=exam,
        text="What colour is the earth wire?",
        choices=[{"id": "a", "text": "Green and yellow"}, {"id": "b", "text": "Blue"}],
    )
    factories.QuestionFactory.create(exam=exam, kind="short", topic="theory", text="Name the law V = IR.", choices=[])
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=2)
    PaperRule.objects.create(exam=exam, kind="short", topic="theory", count=1)
    room = factories.ExamRoomFactory.create(name="Chongqing Exam Hall 3")
    invigilator = factories.invigilator(first_name="Hong", last_name="Zhao")
    room.invigilators.add(invigilator)
    sitting = factories.sitting(exam=exam, room=room, starts_in=timedelta(seconds=25), closes_before=timedelta(0))
    trainee = factories.trainee(first_name="Jun", last_name="Wang")

    # Registers, downloads the slip.
    page = sign_in(trainee)
    page.goto(f"{live_server.url}/en/exams/SAFE-1/")
    page.get_by_role("button", name="Register for this sitting").click()
    expect(page.get_by_text("You are registered for SAFE-1")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download admission slip (PDF)").click()
    with open(download_info.value.path(), "rb") as downloaded:
        [barcode] = zxingcpp.read_barcodes(pdf_page_image(downloaded.read(), system_fonts=False))

    # The invigilator scans the slip.
    desk = sign_in(invigilator)
    desk.goto(f"{live_server.url}/en/exams/sittings/{sitting.pk}/check-in/")
    desk.get_by_label("Slip code").fill(barcode.text)
    desk.get_by_role("button", name="Find the candidate").click()
    desk.get_by_role("button", name="Identity confirmed: check in").click()
    expect(desk.get_by_text("Jun Wang is checked in")).to_be_visible()

    # The candidate opens the exam page from My exams and waits for the start.
    page.goto(f"{live_server.url}/en/exams/mine/")
    page.get_by_role("link", name="Exam page").click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    deadline = time.monotonic() + 40
    while not page.get_by_role("button", name="Start the exam").count():
        assert time.monotonic() < deadline, "the start button never appeared"
        expect(page.get_by_text("you can start then")).to_be_visible()
        page.wait_for_timeout(2000)
        page.reload()
    page.get_by_role("button", name="Start the exam").click()
    expect(page.locator("#exam-time-left")).to_have_text(re.compile(r"^0[01]:\d\d$"))
    expect(page.get_by_role("navigation", name="Questions").get_by_role("link")).to_have_count(3)

    page.get_by_label("CO2").check()
    expect(page.locator("#exam-save-status")).to_contain_text("Answers last saved at")
    paper = Paper.objects.get(candidate__user=trainee)
    assert Answer.objects.filter(paper=paper).count() == 1

    # The link goes down: answers wait in the page, and it says so.
    page.context.set_offline(True)
    page.get_by_label("Green and yellow").check()
    page.get_by_label(re.compile("Your answer to question")).fill("Ohm's law")
    page.get_by_label(re.compile("Your answer to question")).press("Tab")
    expect(page.locator("#exam-save-status")).to_contain_text("Offline — 2 answers waiting")
    assert Answer.objects.filter(paper=paper).count() == 1
    left_before = _clock_seconds(page)
    page.close()

    # Back on a new page (the link has returned): the remaining time, every answer, and the waiting ones are sent.
    candidate_context = page.context
    candidate_context.set_offline(False)
    again = candidate_context.new_page()
    candidate = Candidate.objects.get(user=trainee)
    again.goto(f"{live_server.url}/en/exams/candidates/{candidate.pk}/exam/")
    expect(again.get_by_label("CO2")).to_be_checked()
    expect(again.get_by_label("Green and yellow")).to_be_checked()
    expect(again.get_by_label(re.compile("Your answer to question"))).to_have_value("Ohm's law")
    expect(again.locator("#exam-save-status")).to_contain_text("Answers last saved at")
    assert 0 < _clock_seconds(again) <= left_before
    answers = {
        a.question.text: (a.choices, a.text) for a in Answer.objects.filter(paper=paper).select_related("question")
    }
    assert answers == {
        "Which extinguisher for an electrical fire?": (["a"], ""),
        "What colour is the earth wire?": (["a"], ""),
        "Name the law V = IR.": ([], "Ohm's law"),
    }

    # Time-up: the server submits the paper; the page says so and nothing is editable.
    expect(again.get_by_role("heading", name="Your paper has been submitted")).to_be_visible(timeout=90_000)
    expect(again.get_by_text("Submitted at time-up")).to_be_visible()
    expect(again.locator("#exam-form")).to_have_count(0)
    paper.refresh_from_db()
    assert paper.submitted_how == SubmittedHow.TIME_UP and paper.submitted_at is not None
