"""The exam centre's whole story in Chromium, one continuous run (issue 16, item 13): a trainee registers, downloads
the admission slip, is checked in by an invigilator who scans the slip's QR payload, starts the exam, answers, loses
the connection (answers wait in the page), the page is closed; on a new page the remaining time and every answer
are there, the waiting answers reach the server, and at time-up the server submits the paper. Then a marker opens
"Marking" from the menu and marks the short answer from the anonymised script (a candidate number, no name), an
administrator releases the results, and the candidate, emailed, reads their score and the marker's comment on "My
exams". The test creates only what an administrator would (the exam, its questions and rule, its marker, the room,
a one-minute sitting starting shortly)."""

from __future__ import annotations

import email
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


def _emails_to(server_output: str, address: str) -> list[str]:
    """The bodies of the emails the server sent to `address` (its console email backend writes each message, then a
    line of dashes, to the server's output)."""
    bodies = []
    for block in server_output.split("-" * 79):
        start = block.find("Content-Type: text/plain")
        message = email.message_from_string(block[start:].strip()) if start >= 0 else None
        if message is not None and message["To"] == address:
            payload = message.get_payload(decode=True)
            assert isinstance(payload, bytes)
            bodies.append(payload.decode(message.get_content_charset() or "utf-8"))
    return bodies


def _clock_seconds(page: Page) -> int:
    minutes, seconds = page.locator("#exam-time-left").inner_text().split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


def test_a_candidate_takes_a_timed_exam_through_a_lost_connection_to_time_up_and_reads_the_marked_result(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    exam = factories.ExamFactory.create(code="SAFE-1", title="Workshop safety", duration_minutes=1, pass_mark=60)
    factories.QuestionFactory.create(
        exam=exam,
        text="Which extinguisher for an electrical fire?",
        choices=[{"id": "a", "text": "CO2"}, {"id": "b", "text": "Water"}],
        marks=2,
    )
    factories.QuestionFactory.create(
        exam=exam,
        text="What colour is the earth wire?",
        choices=[{"id": "a", "text": "Green and yellow"}, {"id": "b", "text": "Blue"}],
        marks=2,
    )
    factories.QuestionFactory.create(
        exam=exam,
        kind="short",
        topic="theory",
        text="Name the law V = IR.",
        choices=[],
        correct_choices=[],
        model_answer="Ohm's law: voltage is current times resistance.",
        marks=10,
    )
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=2)
    PaperRule.objects.create(exam=exam, kind="short", topic="theory", count=1)
    room = factories.ExamRoomFactory.create(name="Chongqing Exam Hall 3")
    invigilator = factories.invigilator(first_name="Hong", last_name="Zhao")
    room.invigilators.add(invigilator)
    sitting = factories.sitting(exam=exam, room=room, starts_in=timedelta(seconds=25), closes_before=timedelta(0))
    trainee = factories.trainee(first_name="Jun", last_name="Wang")
    marker = factories.exam_marker(exam, first_name="Mei", last_name="Lim")

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

    # The marker: Marking → the exam → the anonymised script waiting for first marking.
    number = paper.candidate.number
    marking = sign_in(marker)
    marking.goto(f"{live_server.url}/en/exams/")
    marking.get_by_role("navigation", name="Main").get_by_role("link", name="Marking").click()
    expect(marking.locator('[data-exam="SAFE-1"]')).to_contain_text("1 answer waits for you")
    marking.get_by_role("link", name="Workshop safety").click()
    expect(marking.get_by_text("0 of 1 papers fully marked")).to_be_visible()
    marking.get_by_role("link", name=f"Mark script {number}").click()
    expect(marking.get_by_role("heading", name=f"Script {number}")).to_be_visible()
    expect(marking.get_by_text("Ohm's law", exact=True)).to_be_visible()  # the candidate's answer
    expect(marking.get_by_text("voltage is current times resistance")).to_be_visible()  # the model answer
    expect(marking.get_by_role("main")).not_to_contain_text("Wang")
    marks = marking.get_by_label("Marks (0 to 10)")
    expect(marks).to_be_focused()  # ready for the keyboard
    marks.fill("8")
    marking.keyboard.press("Tab")
    marking.keyboard.type("Named; the formula in words would earn the rest.")
    marking.keyboard.press("Tab")
    marking.keyboard.press("Enter")
    expect(marking.get_by_text(f"Marks saved: 8 for candidate {number}.")).to_be_visible()
    expect(marking.get_by_text("1 of 1 papers fully marked")).to_be_visible()

    # The administrator: the sitting → Marking and results → confirm → release.
    admin = sign_in(factories.administrator())
    admin.goto(f"{live_server.url}/en/exams/sittings/{sitting.pk}/")
    admin.get_by_role("link", name="Marking and results").click()
    expect(admin.get_by_text("1 of 1 papers fully marked")).to_be_visible()
    expect(admin.locator(f'[data-paper="{paper.pk}"]')).to_contain_text("12 / 14")
    expect(admin.get_by_role("img", name="Number of papers in each band of ten percent")).to_be_visible()
    admin.get_by_label("I confirm: release the results and email 1 candidate now.").check()
    admin.get_by_role("button", name="Release results").click()
    expect(admin.get_by_text("Results released: 1 candidates are emailed and can read them now.")).to_be_visible()
    assert any("12 out of 14" in body for body in _emails_to(live_server.output(), trainee.email))

    # The candidate, back on My exams: the score, the pass, each question's marks and the marker's comment.
    again.goto(f"{live_server.url}/en/exams/mine/")
    result = again.locator(".exam-result")
    expect(result).to_contain_text("12 / 14")
    expect(result).to_contain_text("Passed")
    again.get_by_text("Marks for each question").click()
    expect(result.get_by_text("Named; the formula in words would earn the rest.")).to_be_visible()
    expect(result.get_by_role("row").filter(has_text="Name the law V = IR.")).to_contain_text("8 / 10")
