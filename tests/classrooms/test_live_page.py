"""The live session page: who may open it, and what it gives its script (socket, words, state)."""

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from classrooms.models import SessionState
from classrooms.services import attendance
from lms.close_codes import CloseCode
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol

pytestmark = pytest.mark.django_db


class Live:
    """A live session in a Singapore and a Chongqing room, its instructor, an enrolled trainee and an outsider."""

    def __init__(self) -> None:
        self.course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
        self.room = RoomFactory.create(name="Marina 3", city="singapore")
        self.other_room = RoomFactory.create(name="Jiefangbei 2", city="chongqing")
        self.instructor = factories.instructor()
        self.session = LiveSessionFactory.create(
            course=self.course, instructor=self.instructor, rooms=[self.room, self.other_room], title="Cross-border lab"
        )
        self.trainee = factories.trainee()
        enrol(self.trainee, self.course)
        self.outsider = factories.trainee()


@pytest.fixture
def live(db: Any) -> Live:
    return Live()


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(session: Any, language: str = "en") -> str:
    return f"/{language}/live/sessions/{session.pk}/"


def json_element(response: Any, element_id: str) -> Any:
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert found, f"the page carries its scripts' {element_id}"
    return json.loads(found.group(1))


def live_config(response: Any) -> dict[str, Any]:
    return dict(json_element(response, "live-config"))


def page_strings(response: Any) -> dict[str, Any]:
    """The words the page hands its scripts (`{% js_strings %}`, read by corridor/i18n.js)."""
    return dict(json_element(response, "corridor-strings"))


def test_an_enrolled_trainee_opens_the_page(live: Live) -> None:
    response = signed_in(live.trainee).get(page_url(live.session))
    assert response.status_code == 200
    assert response.templates[0].name == "classrooms/live_session.html"
    page = response.content.decode()
    assert "Cross-border lab" in page
    assert "/static/corridor/live.js" in page and "/static/corridor/live.css" in page
    # The video region is the media panel (media.js fills it), still listing the rooms.
    assert "Video" in page and "Marina 3" in page and "Jiefangbei 2" in page
    assert "/static/corridor/media.js" in page and "data-media-panel" in page
    config = live_config(response)
    assert config["sessionId"] == live.session.pk
    assert config["socketPath"] == f"/ws/sessions/{live.session.pk}/"
    assert config["socketUrl"] == f"ws://testserver/ws/sessions/{live.session.pk}/"
    assert (config["role"], config["moderator"], config["trainee"]) == ("trainee", False, True)
    assert config["attendance"] is None  # who is here is the moderators' business
    assert page_strings(response)["noQuestions"] == "No questions yet — be the first to ask."
    # Trainees get the hand toggle, not the moderators' tools.
    assert "data-hand-toggle" in page
    assert "data-poll-form" not in page and "data-hands-queue" not in page


def test_an_outsider_gets_a_404_that_does_not_tell_the_session_exists(live: Live) -> None:
    outsider = signed_in(live.outsider)
    refused = outsider.get(page_url(live.session))
    missing = outsider.get(f"/en/live/sessions/{live.session.pk + 1000}/")
    assert refused.status_code == missing.status_code == 404
    assert "Cross-border lab" not in refused.content.decode()


def test_a_signed_out_visitor_is_sent_to_sign_in(live: Live) -> None:
    response = Client().get(page_url(live.session))
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/login/")
    assert f"next=/en/live/sessions/{live.session.pk}/" in response["Location"]


def test_the_page_speaks_chinese_under_zh_hans(live: Live) -> None:
    response = signed_in(live.trainee).get(page_url(live.session, "zh-hans"))
    assert response.status_code == 200
    config = live_config(response)
    assert config["language"] == "zh-hans"
    assert config["socketPath"] == f"/ws/sessions/{live.session.pk}/"
    with translation.override("zh-hans"):
        expected = translation.gettext("No questions yet — be the first to ask.")
    assert expected != "No questions yet — be the first to ask.", "the Chinese catalogue has the page's words"
    assert page_strings(response)["noQuestions"] == expected
    assert page_strings(response)["raiseHand"] == "举手"
    assert page_strings(response)["votes"]["other"] == "{count} 票"
    # The socket's error frames are in English; the page shows them by code, in Chinese.
    with translation.override("zh-hans"):
        assert page_strings(response)["errors"]["poll_closed"] == translation.gettext("This poll is closed.")
    assert page_strings(response)["errors"]["poll_closed"] != "This poll is closed."
    # The media panel's words come the same way, and the close codes from the server's table.
    with translation.override("zh-hans"):
        assert page_strings(response)["media"]["noCamera"] == translation.gettext(
            "Your camera or microphone could not be opened."
        )
        assert page_strings(response)["media"]["cities"]["chongqing"] == translation.gettext("Chongqing")
    assert page_strings(response)["media"]["noCamera"] != "Your camera or microphone could not be opened."
    assert json_element(response, "corridor-close-codes")["codes"]["FORBIDDEN"] == CloseCode.FORBIDDEN
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "视频" in page  # the video placeholder's heading


def test_the_script_never_writes_html_from_strings() -> None:
    """User text goes in with textContent: the script has no innerHTML, insertAdjacentHTML or document.write."""
    from django.contrib.staticfiles import finders

    path = finders.find("corridor/live.js")
    assert path
    with open(path, encoding="utf-8") as script:
        source = script.read()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in source


def test_the_instructor_gets_the_moderators_tools_and_who_is_here(live: Live) -> None:
    operator = factories.operator()
    live.other_room.operators.add(operator)
    attendance.roster_mark(session=live.session, room=live.other_room, user=live.trainee, present=True, by=operator)
    response = signed_in(live.instructor).get(page_url(live.session))
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-poll-form" in page and "data-hands-queue" in page and "data-attendance" in page
    assert "data-hand-toggle" not in page
    assert f'href="/en/live/sessions/{live.session.pk}/attendance/"' in page
    config = live_config(response)
    assert (config["role"], config["moderator"]) == ("instructor", True)
    presence = config["attendance"]
    assert presence["present"] == 1
    assert {room["name"]: room["count"] for room in presence["rooms"]} == {"Marina 3": 0, "Jiefangbei 2": 1}


def test_an_operator_of_a_room_may_open_the_page_but_not_moderate(live: Live) -> None:
    operator = factories.operator()
    live.room.operators.add(operator)
    response = signed_in(operator).get(page_url(live.session))
    assert response.status_code == 200
    config = live_config(response)
    assert (config["role"], config["moderator"], config["trainee"]) == ("operator", False, False)
    page = response.content.decode()
    assert "data-poll-form" not in page and "data-hand-toggle" not in page


def test_the_course_page_links_to_the_live_session_for_those_who_may_join(live: Live) -> None:
    join = f'href="/en/live/sessions/{live.session.pk}/"'
    assert join in signed_in(live.trainee).get(live.course.url).content.decode()
    assert join in signed_in(live.instructor).get(live.course.url).content.decode()
    assert join not in signed_in(live.outsider).get(live.course.url).content.decode()
    live.session.state = SessionState.ENDED
    live.session.save()
    assert join not in signed_in(live.trainee).get(live.course.url).content.decode()


def test_the_course_page_finds_the_session_in_one_query(live: Live, django_assert_num_queries: Any) -> None:
    from django.utils import timezone

    from classrooms.selectors.sessions import joinable_session_for_course
    from lms.accounts.roles import user_roles

    user_roles(live.trainee)  # cached on the user by the page's context processor
    with django_assert_num_queries(1):
        found = joinable_session_for_course(
            user=live.trainee, course_key=live.course.translation_key, now=timezone.now()
        )
    assert found == live.session
