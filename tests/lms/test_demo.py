import pytest
from django.core.management import call_command
from wagtail.models import Locale

from courses.models import CoursePage, Enrolment, LessonPage, ModulePage
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from lms.demo import DEMO_COURSES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings) -> None:
    """The demo's known passwords are for a developer's machine: load_demo runs only under DEBUG."""
    settings.DEBUG = True


def counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        CoursePage.objects.count(),
        ModulePage.objects.count(),
        LessonPage.objects.count(),
        Enrolment.objects.count(),
    )


def test_demo_is_bilingual_complete_and_idempotent(capsys) -> None:
    call_command("load_demo")
    first = counts()
    call_command("load_demo")
    assert counts() == first
    output = capsys.readouterr().out
    assert "trainee.sg@corridor.example" in output and "corridor-demo" in output

    english, chinese = Locale.objects.get(language_code="en"), Locale.objects.get(language_code="zh-hans")
    for spec in DEMO_COURSES:
        course = CoursePage.objects.get(code=spec.code, locale=english)
        translation = course.get_translation(chinese)
        assert translation.live and translation.title == spec.title.zh
        assert (
            LessonPage.objects.live().descendant_of(translation).count()
            == LessonPage.objects.descendant_of(course).count()
        )
    roles = set().union(*(user_roles(user) for user in User.objects.all()))
    assert roles == set(Role)


def test_demo_has_two_rooms_and_a_session_in_both_for_the_instructor_to_start() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from classrooms.models import LiveSession, Room, SessionState
    from classrooms.selectors.participants import Participant, session_participant
    from classrooms.services.sessions import session_end, session_start

    call_command("load_demo")
    call_command("load_demo")
    assert sorted(Room.objects.values_list("city", flat=True)) == ["chongqing", "singapore"]
    # One class a few minutes ahead (the certificate demo adds a finished one, its attendance counting to CX-101; the
    # internship demo a one-to-one check-in, tomorrow).
    session = LiveSession.objects.get(state=SessionState.SCHEDULED, one_to_one_with__isnull=True)
    now = timezone.now()
    assert now < session.starts_at <= now + timedelta(minutes=15)  # Start is already allowed
    assert session.rooms.count() == 2
    instructor = User.objects.get(email="instructor@corridor.example")
    session_start(session=session, by=instructor)
    call_command("load_demo")  # a live session is left alone
    session.refresh_from_db()
    assert session.state == SessionState.LIVE
    session_end(session=session, by=instructor)
    call_command("load_demo")  # an ended one is scheduled again
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED and session.starts_at > now
    for email in ("trainee.sg@corridor.example", "trainee.cq@corridor.example"):
        assert session_participant(session=session, user=User.objects.get(email=email)) == Participant.TRAINEE
    assert session_participant(session=session, user=User.objects.get(email="operator.cq@corridor.example")) == (
        Participant.OPERATOR
    )


def test_demo_rooms_have_agents_asked_to_stream_and_tokens_written_once(tmp_path) -> None:
    import json
    import stat

    from classrooms.models import Device, DeviceKind
    from classrooms.services import devices

    path = tmp_path / "room-tokens.json"
    call_command("load_demo", "--room-tokens", str(path))
    first = json.loads(path.read_text())["rooms"]
    assert [entry["slug"] for entry in first] == ["marina-bay-studio", "jiefangbei-studio"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for entry in first:
        agent = devices.agent_authenticate(token=entry["token"])
        assert agent is not None and agent.room_id == entry["room"]
    agents = Device.objects.filter(kind=DeviceKind.AGENT)
    assert agents.count() == 2 and all(agent.stream_requested for agent in agents)
    # Loading again keeps valid tokens (running agents stay connected); without the option no file is written.
    call_command("load_demo", "--room-tokens", str(path))
    assert json.loads(path.read_text())["rooms"] == first
    call_command("load_demo")
    assert not (tmp_path / "var").exists()
