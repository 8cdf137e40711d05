"""A live session in real browsers: questions, answers, votes, a poll, a raised hand and attendance.

The page talks to the server over a websocket, which pytest-django's live server (WSGI) cannot
serve, so these tests run the real ASGI server (uvicorn, as deployed: lms/serve.py) in a process of its own on the test
database (a file for SQLite: see lms/settings/test.py). The conftest's `sign_in` signs in to
whatever `live_server` is; here that is uvicorn.
"""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Locator, Page, expect

from classrooms.services import attendance, qa
from courses.models import Enrolment
from tests import factories
from tests.support.browser import AsgiServer, Class, SignIn, in_another_thread

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(asgi_live_server: AsgiServer) -> AsgiServer:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    return asgi_live_server


def open_live_page(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page.goto(f"{server.url}{live_class.path}")
    expect(page.get_by_role("heading", name="Cross-border networking lab")).to_be_visible()
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", "live")
    return page


def question(page: Page, text: str) -> Locator:
    return page.locator(".question").filter(has_text=text)


def test_a_question_asked_answered_and_upvoted_reaches_everyone_live(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    trainee.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    expect(trainee.get_by_text("No questions yet — be the first to ask.")).to_be_visible()
    expect(trainee.get_by_role("region", name="Video")).to_contain_text("Jiefangbei Studio")

    # The trainee asks (Ctrl+Enter sends); markup in a question is shown as text, never run.
    asked = "Can the <b>Chongqing</b> room hear us clearly?"
    box = trainee.get_by_label("Ask a question")
    box.fill(asked)
    expect(trainee.locator("[data-ask-counter]")).to_have_text(f"{len(asked)} / 500 characters")
    box.press("Control+Enter")
    expect(box).to_have_value("")
    expect(trainee.get_by_text("Your question has been sent.")).to_be_visible()

    # The instructor sees it arrive, with its author.
    seen = question(instructor, asked)
    expect(seen).to_be_visible()
    expect(seen.locator(".question-text")).to_have_text(asked)
    expect(seen.locator(".question-text b")).to_have_count(0)
    expect(seen.locator(".question-author")).to_have_text("Mei Tan")

    # The trainee upvotes it; the instructor's count follows.
    mine = question(trainee, asked)
    upvote = mine.get_by_role("button", name=re.compile("^Upvote"))
    upvote.click()
    expect(upvote).to_have_attribute("aria-pressed", "true")
    expect(seen.locator(".vote-count")).to_have_text("1")

    # The instructor answers; the trainee sees the answer without reloading.
    seen.get_by_role("button", name="Answer", exact=True).click()
    seen.get_by_label("Your answer").fill("Yes: loud and clear in Chongqing.")
    seen.get_by_role("button", name="Send answer").click()
    expect(mine.locator(".answer-text")).to_have_text("Yes: loud and clear in Chongqing.")
    expect(mine.locator(".answer-by")).to_have_text("Answer from Wen Lim")
    expect(mine.get_by_text("Answered", exact=True)).to_be_visible()
    assert trainee.evaluate("window.stillTheSamePage") is True

    # Taking the vote back is seen too.
    upvote.click()
    expect(upvote).to_have_attribute("aria-pressed", "false")
    expect(seen.locator(".vote-count")).to_have_text("0")

    # Attendance: the Chongqing trainee checks in with the room display's code, and the
    # instructor's page counts them in the room at once; the report lists both trainees.
    phone = sign_in(live_class.chongqing_trainee)
    code = attendance.checkin_code(session=live_class.session, room=live_class.chongqing)
    with translation.override("en"):
        checkin = reverse(
            "classrooms:attendance-checkin",
            kwargs={"session_id": live_class.session.pk, "room_id": live_class.chongqing.pk, "code": code},
        )
    phone.goto(f"{live_server.url}{checkin}")
    phone.get_by_role("button", name="I'm here: check in").click()
    expect(phone.get_by_role("heading", name="You are checked in")).to_be_visible()

    panel = instructor.get_by_role("region", name="Who is here")
    expect(panel.locator(".presence-places li").filter(has_text="Jiefangbei Studio")).to_contain_text("1")
    expect(panel.locator(".people li").filter(has_text="Jun Zhao")).to_contain_text("Jiefangbei Studio")

    instructor.get_by_role("link", name="Attendance report").click()
    expect(instructor.get_by_role("heading", name="Attendance report")).to_be_visible()
    rows = instructor.locator(".attendance-table tbody tr")
    in_room = rows.filter(has_text="Jun Zhao")
    expect(in_room.locator("td").nth(0)).to_have_text(re.compile(r"^\d+$"))
    expect(in_room.locator("td").nth(2)).to_contain_text("Jiefangbei Studio")
    remote = rows.filter(has_text="Mei Tan")
    expect(remote.locator("td").nth(0)).to_have_text(re.compile(r"^\d+$"))
    expect(remote.locator("td").nth(2)).to_contain_text("Remote")


def test_a_poll_and_a_raised_hand(live_server: AsgiServer, sign_in: SignIn, live_class: Class) -> None:
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    expect(trainee.get_by_text("No polls yet.")).to_be_visible()

    # The instructor opens a poll with three choices.
    instructor.get_by_text("Open a poll").click()
    instructor.get_by_label("Question", exact=True).fill("How is the pace?")
    instructor.get_by_label("Choice 1", exact=True).fill("Too slow")
    instructor.get_by_label("Choice 2", exact=True).fill("Just right")
    instructor.get_by_role("button", name="Add a choice").click()
    instructor.get_by_label("Choice 3", exact=True).fill("Too fast")
    instructor.get_by_role("button", name="Open poll").click()

    # The trainee votes once; the results move on both pages.
    poll = trainee.locator(".poll").filter(has_text="How is the pace?")
    poll.get_by_role("button", name="Vote: Just right").click()
    expect(poll.get_by_text("You voted: Just right")).to_be_visible()
    expect(poll.get_by_role("button", name=re.compile("^Vote:"))).to_have_count(0)
    results = instructor.locator(".poll").filter(has_text="How is the pace?")
    expect(results.locator(".result").filter(has_text="Just right")).to_contain_text("1 (100%)")
    expect(results.locator(".result").filter(has_text="Too fast")).to_contain_text("0 (0%)")

    # Closed, it stays listed with its results.
    results.get_by_role("button", name="Close poll").click()
    expect(poll.get_by_text("Closed", exact=True)).to_be_visible()
    expect(poll.locator(".result").filter(has_text="Just right")).to_contain_text("1 (100%)")

    # The trainee raises a hand; the instructor sees the queue and lowers it.
    trainee.get_by_role("button", name="Raise hand").click()
    expect(trainee.get_by_role("button", name="Lower hand")).to_be_visible()
    queue = instructor.locator("[data-hands-queue]")
    expect(queue.locator("li")).to_have_count(1)
    queue.get_by_role("button", name="Lower Mei Tan's hand").click()
    expect(queue.locator("li")).to_have_count(0)
    expect(trainee.get_by_role("button", name="Raise hand")).to_be_visible()
    expect(trainee.get_by_text("The instructor lowered your hand.")).to_be_visible()


def test_the_page_reconnects_by_itself_and_catches_up(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    trainee.evaluate("window.stillTheSamePage = true")
    connection = trainee.locator("[data-connection]")

    live_server.stop()
    expect(connection).to_have_attribute("data-state", "reconnecting")
    expect(connection).to_contain_text(re.compile(r"Reconnecting in \d+ s"))
    expect(trainee.get_by_role("button", name="Reconnect now")).to_be_visible()
    # What happens while the page is away reaches it when it is back.
    in_another_thread(
        lambda: qa.question_ask(session=live_class.session, user=live_class.instructor, text="Asked while away")
    )

    live_server.start()
    expect(connection).to_have_attribute("data-state", "live", timeout=45_000)
    expect(question(trainee, "Asked while away")).to_be_visible()
    expect(trainee.get_by_role("button", name="Reconnect now")).to_be_hidden()
    assert trainee.evaluate("window.stillTheSamePage") is True

    # Losing the right to be there ends it for good, with the server's reason. (Unenrolled here, in
    # the test's process, the socket learns it at its next role check, within two heartbeats.)
    in_another_thread(lambda: Enrolment.objects.filter(user=live_class.trainee).delete())
    expect(connection).to_have_attribute("data-state", "closed", timeout=30_000)
    expect(connection).to_contain_text("(code 44")
    expect(trainee.get_by_role("button", name="Reconnect now")).to_be_hidden()


def test_an_outsider_is_not_shown_the_session(live_server: AsgiServer, sign_in: SignIn, live_class: Class) -> None:
    outsider = sign_in(factories.trainee())
    response = outsider.goto(f"{live_server.url}{live_class.path}")
    assert response is not None and response.status == 404
