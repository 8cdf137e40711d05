"""Marking and results in Chromium, as their people use them (issue 16, items 7 and 13): a marker opens "Marking"
from the menu, takes the essay waiting in their queue, reads the anonymised script (a candidate number, no name)
with the question and the model answer, gives marks and a comment from the keyboard; an administrator opens the
sitting's results, sees every paper marked, confirms and releases; the candidate, emailed, reads their score, the
pass and the marker's comment on "My exams"."""

from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from exams.models import Paper
from tests import factories
from tests.support.browser import SignIn, in_another_thread

pytestmark = pytest.mark.e2e


def test_a_marker_marks_an_essay_an_administrator_releases_and_the_candidate_reads_the_result(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    exam = factories.marked_exam(pass_mark=60)
    trainee = factories.trainee(first_name="Xiaoyu", last_name="Chen")
    sitting = factories.past_sitting(exam=exam, candidates=[trainee])
    answers = {
        "First single?": ["a"],
        "Second single?": ["a"],
        "Pick two?": ["a"],
        "Plan a hybrid class.": "Book both rooms, name a host in each, and keep a phone bridge as a fallback.",
    }
    # Taken as the exam page takes it; its pushes after commit cannot run in Playwright's thread (an event loop).
    in_another_thread(lambda: factories.submit_paper_as_candidate(candidate=sitting.candidates.get(), answers=answers))
    paper = Paper.objects.select_related("candidate").get(candidate__sitting=sitting)
    number = paper.candidate.number
    marker = factories.exam_marker(exam, first_name="Mei", last_name="Lim")

    # The marker: Marking → the exam → the script waiting for first marking.
    page = sign_in(marker)
    page.goto(f"{live_server.url}/en/exams/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Marking").click()
    expect(page.locator(f'[data-exam="{exam.code}"]')).to_contain_text("1 answer waits for you")
    page.get_by_role("link", name=exam.title).click()
    expect(page.get_by_text("0 of 1 papers fully marked")).to_be_visible()
    page.get_by_role("link", name=f"Mark script {number}").click()
    expect(page.get_by_role("heading", name=f"Script {number}")).to_be_visible()
    expect(page.get_by_text("Book both rooms, name a host in each")).to_be_visible()
    expect(page.get_by_text("Rooms, roles, a fallback.")).to_be_visible()  # the model answer
    expect(page.get_by_role("main")).not_to_contain_text("Chen")
    expect(page.get_by_role("main")).not_to_contain_text("Xiaoyu")
    marks = page.get_by_label("Marks (0 to 10)")
    expect(marks).to_be_focused()  # ready for the keyboard
    marks.fill("8")
    page.keyboard.press("Tab")
    page.keyboard.type("A workable plan; say who calls the bridge.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Marks saved: 8 for candidate {number}.")).to_be_visible()
    expect(page.get_by_role("heading", name="Nothing to mark")).to_be_visible()
    expect(page.get_by_text("1 of 1 papers fully marked")).to_be_visible()

    # The administrator: the sitting → Marking and results → confirm → release.
    admin = sign_in(factories.administrator())
    admin.goto(f"{live_server.url}/en/exams/sittings/{sitting.pk}/")
    admin.get_by_role("link", name="Marking and results").click()
    expect(admin.get_by_text("1 of 1 papers fully marked")).to_be_visible()
    expect(admin.locator(f'[data-paper="{paper.pk}"]')).to_contain_text("12 / 16")
    expect(admin.get_by_role("img", name="Number of papers in each band of ten percent")).to_be_visible()
    admin.get_by_label("I confirm: release the results and email 1 candidate now.").check()
    admin.get_by_role("button", name="Release results").click()
    expect(admin.get_by_text("Results released: 1 candidates are emailed and can read them now.")).to_be_visible()
    expect(admin.get_by_role("button", name="Release results")).to_have_count(0)
    [email] = mail.outbox
    assert email.to == [trainee.email] and "12 out of 16 (75 %)" in email.body

    # The candidate: My exams → the result, each question's marks and the marker's comment.
    candidate = sign_in(trainee)
    candidate.goto(f"{live_server.url}/en/exams/mine/")
    result = candidate.locator(".exam-result")
    expect(result).to_contain_text("12 / 16")
    expect(result).to_contain_text("Passed")
    candidate.get_by_text("Marks for each question").click()
    expect(result.get_by_text("A workable plan; say who calls the bridge.")).to_be_visible()
    expect(result.get_by_role("row").filter(has_text="Plan a hybrid class.")).to_contain_text("8 / 10")
    assert Paper.objects.get(pk=paper.pk).passed is True
