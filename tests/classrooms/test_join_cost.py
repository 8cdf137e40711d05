"""What one join of the live socket costs the database (issue 15: 2,000 trainees join in the minute a class starts).

Each join is counted through the real ASGI stack (session auth, the consumer, attendance, the welcome snapshot):
a fixed number of statements, whatever the session already holds.
"""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from classrooms import fanout
from classrooms.models import (
    AttendanceStay,
    LiveSession,
    Poll,
    PollChoice,
    PollVote,
    Question,
    QuestionVote,
    RaisedHand,
)
from classrooms.services import qa
from lms.asgi import application
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, enrol
from tests.support.live import LiveClient, session_cookie
from tests.support.queries import Statements, counting_queries

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# A trainee's join, counted on SQLite (on PostgreSQL the transaction's BEGIN is not a statement of its own): session
# and user (auth); the session with their part in it and their hand (one query); their attendance, recorded before
# the welcome (record, stay: 5 statements the first time); and the part of the snapshot every trainee shares (last
# event, questions, polls: 3), which a process reads once for a burst of joins, not once per join. Their votes cost
# a query only when the entry query found they have voted.
# Before issue 15's join work: 19 statements for every trainee's join into an empty session, and one more per poll.
FIRST_TRAINEE_JOIN_STATEMENTS = 12
NEXT_TRAINEE_JOIN_STATEMENTS = 9


@pytest.fixture(autouse=True)
def no_coalesced_announcements(monkeypatch: pytest.MonkeyPatch) -> None:
    # Presence and votes are announced a while after a join, on their own; keep them out of the counts.
    monkeypatch.setattr(fanout, "ATTENDANCE_FLUSH_SECONDS", 60.0)
    monkeypatch.setattr(fanout, "VOTE_FLUSH_SECONDS", 60.0)


async def open_socket(user: Any, session: LiveSession) -> tuple[LiveClient, dict[str, Any], Statements]:
    """Join as `user`, counting every statement from the handshake to the welcome frame."""
    cookie = await sync_to_async(session_cookie)(user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{session.pk}/", headers=headers)
    with counting_queries() as statements:
        connected, _ = await communicator.connect()
        assert connected
        client = LiveClient(communicator)
        welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    return client, welcome["data"], statements


def busy_session(live: Any, *, questions: int, participants: int) -> LiveSession:
    """A session of `live`'s course that already holds questions (some voted on), polls with votes, raised hands."""
    session = LiveSessionFactory.create(course=live.course, instructor=live.instructor, rooms=[live.room])
    people = [factories.trainee() for _ in range(participants)]
    for person in people:
        enrol(person, live.course)
    for n in range(questions):
        voters = people[: n % 4]
        question = Question.objects.create(
            session=session, author=people[n % participants], text=f"Question {n}", vote_count=len(voters)
        )
        for voter in voters:
            QuestionVote.objects.create(question=question, user=voter)
    for n in range(max(1, questions // 5)):
        poll = Poll.objects.create(session=session, prompt=f"Poll {n}")
        choices = [PollChoice.objects.create(poll=poll, text=f"Choice {c}", position=c) for c in range(3)]
        for voter_number, voter in enumerate(people):
            PollVote.objects.create(poll=poll, choice=choices[voter_number % 3], user=voter)
    for person in people[: participants // 2]:
        RaisedHand.objects.create(session=session, user=person)
    return session


async def test_a_trainee_join_takes_a_fixed_handful_of_statements(live: Any) -> None:
    client, welcome, statements = await open_socket(live.trainee, live.session)
    assert welcome["you"]["role"] == "trainee"
    assert len(statements) <= FIRST_TRAINEE_JOIN_STATEMENTS, str(statements)
    # Their presence is recorded before the welcome: attendance (and so certificates) does not wait for later.
    assert await sync_to_async(AttendanceStay.objects.filter(record__user=live.trainee, open_sockets=1).exists)()

    # The next trainee in the same minute starts from the snapshot the first one's join read.
    other = await sync_to_async(factories.trainee)()
    await sync_to_async(enrol)(other, live.course)
    other_client, other_welcome, other_statements = await open_socket(other, live.session)
    assert other_welcome["you"] == {"user_id": other.pk, "role": "trainee", "moderator": False}
    assert len(other_statements) <= NEXT_TRAINEE_JOIN_STATEMENTS, str(other_statements)
    assert await sync_to_async(AttendanceStay.objects.filter(record__user=other, open_sockets=1).exists)()
    await client.close()
    await other_client.close()


async def test_a_join_costs_the_same_in_a_busy_session(live: Any) -> None:
    small = await sync_to_async(busy_session)(live, questions=5, participants=2)
    busy = await sync_to_async(busy_session)(live, questions=25, participants=12)
    newcomers = [await sync_to_async(factories.trainee)() for _ in range(2)]
    for newcomer in newcomers:
        await sync_to_async(enrol)(newcomer, live.course)
    small_client, small_welcome, small_count = await open_socket(newcomers[0], small)
    assert len(small_welcome["questions"]) == 5

    busy_client, busy_welcome, busy_count = await open_socket(newcomers[1], busy)
    # The trainee sees everything the session holds...
    assert len(busy_welcome["questions"]) == 25
    assert sorted(q["votes"] for q in busy_welcome["questions"])[-1] == 3
    assert [p["total"] for p in busy_welcome["polls"]] == [12] * 5
    assert all(sum(c["votes"] for c in p["choices"]) == 12 for p in busy_welcome["polls"])
    # ...for no more statements than in a quiet one (no query per question, poll, vote or participant).
    assert len(busy_count) == len(small_count), f"small:\n{small_count}\n\nbusy:\n{busy_count}"

    instructor_client, instructor_welcome, instructor_count = await open_socket(live.instructor, busy)
    assert len(instructor_welcome["questions"]) == 25
    assert len(instructor_welcome["hands"]) == 6
    assert len(instructor_count) <= FIRST_TRAINEE_JOIN_STATEMENTS + 4, str(instructor_count)
    for client in (small_client, busy_client, instructor_client):
        await client.close()


async def test_a_trainee_who_voted_and_raised_a_hand_sees_both_on_joining(live: Any) -> None:
    busy = await sync_to_async(busy_session)(live, questions=6, participants=4)
    voter, expected = await sync_to_async(first_voter)(busy)
    client, welcome, _ = await open_socket(voter, busy)
    assert sorted(welcome["my_votes"]) == expected
    assert welcome["my_hand_raised"] is True
    await client.close()


def first_voter(session: LiveSession) -> tuple[Any, list[int]]:
    """A trainee who voted in `session`, and the questions they voted for."""
    vote = QuestionVote.objects.filter(question__session=session).select_related("user").first()
    assert vote is not None
    mine = QuestionVote.objects.filter(user=vote.user, question__session=session).values_list("question_id", flat=True)
    return vote.user, sorted(mine)


async def test_a_trainee_joining_after_a_change_starts_from_it(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # However long the shared snapshot may live, an event makes the next join read it again.
    monkeypatch.setattr(fanout, "SNAPSHOT_MAX_AGE_SECONDS", 60.0)
    first, welcome, _ = await open_socket(live.trainee, live.session)
    assert welcome["questions"] == []
    await sync_to_async(qa.question_ask)(session=live.session, user=live.instructor, text="Slides?")
    assert (await first.receive_type("question.created"))["data"]["text"] == "Slides?"

    other = await sync_to_async(factories.trainee)()
    await sync_to_async(enrol)(other, live.course)
    client, welcome, _ = await open_socket(other, live.session)
    assert [q["text"] for q in welcome["questions"]] == ["Slides?"]
    await first.close()
    await client.close()
