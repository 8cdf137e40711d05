"""The catalogue's journey in a real browser, as the people who use it do it.

An instructor writes a course, a module and a lesson in the Wagtail admin and submits
them to the "Course review" workflow (attached to the root, so every page goes through
it); an administrator approves them from the dashboard, translates the course with its
subtree into Simplified Chinese and publishes the translation; a trainee finds the course
in both catalogues, enrols, completes the lesson and watches the progress bar fill.

Only the English interface's wording is relied on: on /zh-hans/ pages the test goes by
roles and by the content it wrote, since the Chinese interface strings change.
"""

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests import factories
from tests.support.browser import SignIn

pytestmark = pytest.mark.e2e

COURSE = "Browser journey course"
COURSE_CODE = "E2E-101"
COURSE_SUMMARY = "A course written, reviewed and translated in the browser."
MODULE = "First steps"
LESSON = "Hello from both rooms"
LESSON_TEXT = "Wave to the other room before you start."
CHINESE_COURSE = "端到端课程"
CHINESE_SUMMARY = "在浏览器中编写、审核并翻译的课程。"


def fill_title(page: Page, title: str) -> None:
    page.get_by_role("textbox", name="Title*").fill(title)
    page.get_by_role("textbox", name="Title*").press("Tab")
    # Leaving the title fills in the slug (on the Promote tab) from it.
    expect(page.locator("#id_slug")).not_to_have_value("")


def submit_for_review(page: Page, title: str) -> None:
    page.get_by_role("button", name="More actions").click()
    page.get_by_role("button", name="Submit to Course review").click()
    expect(page.get_by_text(f"Page '{title}' created and submitted for moderation.")).to_be_visible()


def instructor_writes_and_submits_the_course(page: Page, admin_url: str) -> None:
    expect(page).to_have_url(f"{admin_url}/")
    page.goto(f"{admin_url}/pages/")
    page.get_by_role("link", name="Explore child pages of 'Course catalogue'").click()
    page.get_by_role("link", name="Add child page", exact=True).click()

    # The catalogue takes only courses, so the course form opens straight away.
    expect(page.get_by_role("heading", name="New: Course")).to_be_visible()
    fill_title(page, COURSE)
    page.get_by_role("textbox", name="Course code*").fill(COURSE_CODE)
    page.get_by_role("combobox", name="Category*").select_option(label="Digital skills")
    page.get_by_role("combobox", name="Level*").select_option(label="Beginner")
    page.get_by_role("textbox", name="Summary*").fill(COURSE_SUMMARY)
    page.get_by_role("spinbutton", name="Duration (hours)*").fill("2")
    page.get_by_role("spinbutton", name="Capacity*").fill("12")
    submit_for_review(page, COURSE)

    page.get_by_role("link", name=f"Add a child page to '{COURSE}'").click()
    expect(page.get_by_role("heading", name="New: Module")).to_be_visible()
    fill_title(page, MODULE)
    page.get_by_role("textbox", name="Summary").fill("Getting ready for a class across two cities.")
    submit_for_review(page, MODULE)

    page.get_by_role("link", name=f"Add a child page to '{MODULE}'").click()
    expect(page.get_by_role("heading", name="New: Lesson")).to_be_visible()
    fill_title(page, LESSON)
    page.get_by_role("spinbutton", name="Duration (minutes)*").fill("15")
    page.get_by_role("button", name="Insert a block").click()
    page.get_by_role("option", name="Rich text").click()
    # Draftail (Draft.js) follows key presses, not a programmatic fill, and saves what was typed into
    # the form a moment later (its stateSaveInterval): a person is slower than that, the test waits.
    page.get_by_role("region", name="Lesson content*").get_by_role("textbox").press_sequentially(LESSON_TEXT)
    expect(page.locator("input[name='body-0-value']")).to_have_value(re.compile(re.escape(LESSON_TEXT)))
    submit_for_review(page, LESSON)


def visitor_does_not_find_it_yet(page: Page, site_url: str) -> None:
    page.goto(f"{site_url}/en/?q=journey")
    expect(page.get_by_text("0 courses", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=COURSE)).to_have_count(0)


def administrator_approves_from_the_dashboard(page: Page, admin_url: str) -> None:
    expect(page).to_have_url(f"{admin_url}/")
    awaiting = page.get_by_role("region", name="Awaiting your review")
    for title in (COURSE, MODULE, LESSON):
        expect(awaiting.get_by_role("row").filter(has_text=title)).to_have_count(1)
    for title in (COURSE, MODULE, LESSON):
        row = awaiting.get_by_role("row").filter(has_text=title)
        row.get_by_role("button", name="Actions").click()
        row.get_by_role("button", name="Approve", exact=True).click()
        expect(row).to_have_count(0)  # the dashboard reloads without it


def administrator_translates_and_publishes(page: Page, admin_url: str) -> None:
    page.goto(f"{admin_url}/pages/")
    page.get_by_role("link", name="Explore child pages of 'Course catalogue'").click()
    page.get_by_role("button", name=f"More options for '{COURSE}'").click()
    page.get_by_role("link", name="Translate", exact=True).click()

    expect(page.get_by_role("heading", name=re.compile("Translate page"))).to_be_visible()
    page.get_by_label("Simplified Chinese").check()
    page.get_by_label("Include subtree (2 pages)").check()
    page.get_by_role("button", name="Submit").click()

    # The Chinese course opens as a draft copy of the English one: make it Chinese and publish it.
    expect(page.get_by_text(f"The page '{COURSE}' was successfully created in Simplified Chinese")).to_be_visible()
    expect(page.get_by_role("textbox", name="Title*")).to_have_value(COURSE)
    page.get_by_role("textbox", name="Title*").fill(CHINESE_COURSE)
    page.get_by_role("textbox", name="Summary*").fill(CHINESE_SUMMARY)
    page.get_by_role("button", name="More actions").click()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text(f"Page '{CHINESE_COURSE}' has been published.")).to_be_visible()

    # Its module and lesson, still drafts, are published together.
    page.get_by_role("link", name=f"Explore child pages of '{CHINESE_COURSE}'").click()
    expect(page.get_by_role("row").filter(has_text=MODULE)).to_contain_text("Draft", ignore_case=True)
    page.get_by_role("checkbox", name="Select all").check()
    page.get_by_role("link", name="Publish selected pages", exact=True).click()
    page.get_by_label("Include descendants").check()
    page.get_by_role("button", name="Yes, publish").click()
    expect(page.get_by_role("row").filter(has_text=MODULE)).to_contain_text("Live", ignore_case=True)


def progress_bar(page: Page) -> Locator:
    return page.get_by_role("progressbar")


def trainee_finds_enrols_and_completes(page: Page, site_url: str) -> None:
    expect(page).to_have_url(f"{site_url}/en/learning/")

    # In the Chinese catalogue, by its Chinese title (the interface wording may change: go by roles).
    page.goto(f"{site_url}/zh-hans/")
    expect(page.get_by_role("link", name=COURSE, exact=True)).to_have_count(0)
    page.get_by_role("searchbox").fill("端到端")
    page.get_by_role("searchbox").press("Enter")
    expect(page).to_have_url(re.compile(r"/zh-hans/\?q="))
    page.get_by_role("link", name=CHINESE_COURSE, exact=True).click()
    expect(page).to_have_url(re.compile(r"/zh-hans/.+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CHINESE_COURSE)
    expect(page.get_by_text(CHINESE_SUMMARY)).to_be_visible()
    expect(page.get_by_role("link", name=MODULE, exact=True)).to_be_visible()

    # In the English catalogue, by its English title.
    page.goto(f"{site_url}/en/")
    page.get_by_role("searchbox", name="Search").fill("journey")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 course", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=CHINESE_COURSE)).to_have_count(0)
    page.get_by_role("link", name=COURSE, exact=True).click()
    expect(page).to_have_url(f"{site_url}/en/browser-journey-course/")
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE)
    expect(page.get_by_text(COURSE_CODE, exact=True)).to_be_visible()

    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_text(f"You are enrolled in {COURSE}.")).to_be_visible()
    expect(progress_bar(page)).to_have_attribute("aria-valuenow", "0")
    expect(page.get_by_text("0 of 1 lessons · 0%")).to_be_visible()

    page.get_by_role("link", name=LESSON, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LESSON)
    expect(page.get_by_text(LESSON_TEXT)).to_be_visible()
    page.get_by_role("button", name="Mark lesson complete").click()
    expect(page.get_by_text("You completed this lesson.")).to_be_visible()

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=COURSE).click()
    expect(progress_bar(page)).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_text("1 of 1 lessons · 100%")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My learning").click()
    expect(page).to_have_url(f"{site_url}/en/learning/")
    entry = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=COURSE, exact=True))
    expect(entry.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(entry.get_by_text("Completed")).to_be_visible()

    # The Chinese course is the same course: the progress made in English shows there too.
    page.goto(f"{site_url}/en/browser-journey-course/")
    page.get_by_role("navigation", name="Language").locator("a[hreflang='zh-hans']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(CHINESE_COURSE)
    expect(progress_bar(page)).to_have_attribute("aria-valuenow", "100")


def test_a_course_goes_from_authoring_to_a_trainees_progress(
    live_server: Any, site_catalogue: Any, sign_in: SignIn, new_page: Callable[..., Page]
) -> None:
    instructor = factories.instructor()
    administrator = factories.administrator()
    trainee = factories.trainee()
    admin_url = f"{live_server.url}/admin"

    instructor_writes_and_submits_the_course(sign_in(instructor), admin_url)
    visitor_does_not_find_it_yet(new_page(), live_server.url)  # nothing is published before review

    reviewer = sign_in(administrator)
    administrator_approves_from_the_dashboard(reviewer, admin_url)
    administrator_translates_and_publishes(reviewer, admin_url)

    trainee_finds_enrols_and_completes(sign_in(trainee), live_server.url)
