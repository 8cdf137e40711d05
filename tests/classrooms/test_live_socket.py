"""The live-session socket, end to end through the real ASGI stack (auth, origin check, routing)."""

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from classrooms.live_hubs import hub
from classrooms.models import LiveEvent, Poll, PollVote, Question, QuestionVote
from classrooms.services import qa
from courses.models import Enrolment
from lms.close_codes import CloseCode
from tests.classrooms.factories import LiveSessionFactory
from tests.support.live import joined, refused_with

# Sockets run their queries on other threads, so data must be committed; the roles and
# the Wagtail root come from migrations, so put them back after each test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


# Who may join ---------------------------------------------------------------------------


async def test_each_participant_joins_with_their_part(connect: Any, live: Any) -> None:
    for user, role, moderator in [
        (live.trainee, "trainee", False),
        (live.instructor, "instructor", True),
        (live.operator, "operator", False),
        (live.admin, "administrator", True),
    ]:
        client = await joined(connect, user, live.session)
        assert client.welcome["you"] == {"user_id": user.pk, "role": role, "moderator": moderator}
        assert client.welcome["session"]["title"] == live.session.title


async def test_a_stranger_is_closed_with_a_code_and_a_reason(connect: Any, live: Any) -> None:
    _, _, client = await connect(live.outsider, live.session.pk)
    frame, code = await refused_with(client)
    assert (frame["code"], code) == ("forbidden", CloseCode.FORBIDDEN)


async def test_signed_out_visitors_and_unknown_sessions_get_their_own_codes(connect: Any, live: Any) -> None:
    _, _, anonymous = await connect(None, live.session.pk)
    frame, code = await refused_with(anonymous)
    assert (frame["code"], code) == ("unauthenticated", CloseCode.UNAUTHENTICATED)

    _, _, lost = await connect(live.trainee, live.session.pk + 1000)
    frame, code = await refused_with(lost)
    assert (frame["code"], code) == ("session_not_found", CloseCode.NOT_FOUND)


async def test_an_operator_of_another_room_is_not_admitted(connect: Any, live: Any) -> None:
    other_session = await sync_to_async(LiveSessionFactory.create)(course=live.course, instructor=live.admin)
    _, _, client = await connect(live.operator, other_session.pk)
    frame, code = await refused_with(client)
    assert frame["code"] == "forbidden"
    assert code == CloseCode.FORBIDDEN


async def test_a_foreign_origin_is_refused(connect: Any, live: Any) -> None:
    connected, _, _ = await connect(live.trainee, live.session.pk, origin="https://evil.example")
    assert not connected


# Questions ------------------------------------------------------------------------------


async def test_a_question_reaches_everyone_and_is_stored_before_it_is_sent(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)

    reply = await trainee.request({"type": "question.ask", "text": "  为什么延迟这么高？<script>x</script> "})
    assert reply["type"] == "ack"
    seen = await instructor.receive_type("question.created")
    assert seen["data"]["text"] == "为什么延迟这么高？<script>x</script>"  # raw text: the page escapes it
    assert seen["data"]["id"] == reply["id"]
    stored = await sync_to_async(Question.objects.get)(pk=reply["id"])
    assert stored.text == seen["data"]["text"]
    assert await sync_to_async(LiveEvent.objects.filter(pk=seen["event_id"], kind="question.created").exists)()
    assert (await trainee.receive_type("question.created"))["event_id"] == seen["event_id"]


async def test_a_question_too_long_or_empty_is_refused_and_nothing_is_written(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    assert (await trainee.request({"type": "question.ask", "text": "x" * 501}))["code"] == "text_too_long"
    assert (await trainee.request({"type": "question.ask", "text": "   "}))["code"] == "invalid_text"
    assert (await trainee.request({"type": "question.ask", "text": 42}))["code"] == "invalid_text"
    assert await sync_to_async(Question.objects.count)() == 0
    assert (await trainee.request({"type": "heartbeat"}))["type"] == "pong"


async def test_asking_is_rate_limited_per_user(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    replies = [await trainee.request({"type": "question.ask", "text": f"Question {n}"}) for n in range(6)]
    assert [r["type"] for r in replies[:5]] == ["ack"] * 5
    assert replies[5]["code"] == "rate_limited"
    assert await sync_to_async(Question.objects.count)() == 5


async def test_upvote_once_take_it_back_and_everyone_sees_the_count(connect: Any, live: Any) -> None:
    question = await sync_to_async(qa.question_ask)(session=live.session, user=live.instructor, text="Slides?")
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)

    vote = {"type": "question.vote", "question_id": question.pk}
    assert (await trainee.request(vote))["votes"] == 1
    assert (await trainee.request(vote))["votes"] == 1  # a second upvote changes nothing
    assert (await instructor.receive_type("questions.voted"))["data"] == {"counts": [{"id": question.pk, "votes": 1}]}
    assert (await trainee.request({**vote, "up": False}))["votes"] == 0
    assert (await instructor.receive_type("questions.voted"))["data"] == {"counts": [{"id": question.pk, "votes": 0}]}
    assert await sync_to_async(QuestionVote.objects.count)() == 0


async def test_votes_in_a_burst_are_coalesced_into_few_events(connect: Any, live: Any) -> None:
    question = await sync_to_async(qa.question_ask)(session=live.session, user=live.instructor, text="Burst?")
    trainees = [live.trainee]
    for _ in range(4):
        trainee = await sync_to_async(type(live.trainee).objects.create_user)(email=f"t{len(trainees)}@x.test")
        await sync_to_async(Enrolment.objects.create)(
            user=trainee, course=live.course, course_key=live.course.translation_key
        )
        trainees.append(trainee)
    watcher = await joined(connect, live.instructor, live.session)
    voters = [await joined(connect, t, live.session) for t in trainees]
    await asyncio.gather(*(v.request({"type": "question.vote", "question_id": question.pk}) for v in voters))
    counts: list[int] = []
    while not await watcher.communicator.receive_nothing(timeout=1):
        frame = await watcher.receive()
        if frame["type"] == "questions.voted":
            counts.extend(count["votes"] for count in frame["data"]["counts"])
    assert counts[-1] == 5
    assert len(counts) < 5


async def test_hidden_questions_take_no_votes_and_vanish_for_trainees(connect: Any, live: Any) -> None:
    question = await sync_to_async(qa.question_ask)(session=live.session, user=live.instructor, text="Off topic")
    instructor = await joined(connect, live.instructor, live.session)
    reply = await instructor.request({"type": "question.moderate", "question_id": question.pk, "action": "hide"})
    assert reply["type"] == "ack"
    trainee = await joined(connect, live.trainee, live.session)
    assert trainee.welcome["questions"] == []
    refused = await trainee.request({"type": "question.vote", "question_id": question.pk})
    assert refused["code"] == "question_hidden"
    assert await sync_to_async(QuestionVote.objects.count)() == 0


async def test_a_question_of_another_session_is_as_good_as_none(connect: Any, live: Any) -> None:
    other = await sync_to_async(LiveSessionFactory.create)(course=live.course, instructor=live.admin)
    foreign = await sync_to_async(qa.question_ask)(session=other, user=live.admin, text="Elsewhere")
    trainee = await joined(connect, live.trainee, live.session)
    reply = await trainee.request({"type": "question.vote", "question_id": foreign.pk})
    assert reply["code"] == "question_not_found"
    reply = await trainee.request({"type": "question.vote", "question_id": "1 OR 1=1"})
    assert reply["code"] == "invalid_id"


async def test_a_trainee_cannot_moderate_and_the_socket_stays_open(connect: Any, live: Any) -> None:
    question = await sync_to_async(qa.question_ask)(session=live.session, user=live.trainee, text="Mine")
    trainee = await joined(connect, live.trainee, live.session)
    for frame in [
        {"type": "question.answer", "question_id": question.pk, "text": "Self-answered"},
        {"type": "question.moderate", "question_id": question.pk, "action": "pin"},
        {"type": "poll.open", "prompt": "Rigged?", "choices": ["yes", "yes"]},
        {"type": "hand.lower", "user_id": live.instructor.pk},
    ]:
        assert (await trainee.request(frame))["code"] == "forbidden"
    stored = await sync_to_async(Question.objects.get)(pk=question.pk)
    assert (stored.answered, stored.pinned, stored.answer) == (False, False, "")
    assert (await trainee.request({"type": "heartbeat"}))["type"] == "pong"


async def test_answers_and_pins_arrive_live_and_order_the_list(connect: Any, live: Any) -> None:
    ask = sync_to_async(qa.question_ask)
    first = await ask(session=live.session, user=live.trainee, text="First")
    second = await ask(session=live.session, user=live.trainee, text="Second")
    popular = await ask(session=live.session, user=live.admin, text="Popular")
    await sync_to_async(qa.question_vote)(session=live.session, user=live.trainee, question_id=popular.pk, up=True)
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)
    assert [q["text"] for q in trainee.welcome["questions"]] == ["Popular", "First", "Second"]

    await instructor.request({"type": "question.answer", "question_id": first.pk, "text": "Use the 5 GHz network"})
    answered = await trainee.receive_type("question.updated")
    assert answered["data"]["answer"] == "Use the 5 GHz network"
    assert answered["data"]["answered"] is True
    await instructor.request({"type": "question.moderate", "question_id": second.pk, "action": "pin"})
    assert (await trainee.receive_type("question.updated"))["data"]["pinned"] is True

    again = await joined(connect, live.trainee, live.session)
    assert [q["text"] for q in again.welcome["questions"]] == ["Second", "Popular", "First"]


async def test_a_reconnecting_client_catches_up_from_the_last_event_it_saw(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    await trainee.request({"type": "question.ask", "text": "Before the tunnel"})
    last_seen = (await trainee.receive_type("question.created"))["event_id"]
    await trainee.close()

    ask = sync_to_async(qa.question_ask)
    missed = [await ask(session=live.session, user=live.admin, text=f"Missed {n}") for n in range(3)]

    back = await joined(connect, live.trainee, live.session)
    synced = await back.request({"type": "sync", "after": last_seen})
    assert synced["type"] == "synced"
    assert [e["data"]["text"] for e in synced["events"]] == [q.text for q in missed]
    assert all(e["event_id"] > last_seen for e in synced["events"])
    assert (await back.request({"type": "sync", "after": -1}))["code"] == "invalid_id"


# Polls and hands ------------------------------------------------------------------------


async def test_a_poll_is_voted_once_results_update_live_and_stay_after_closing(connect: Any, live: Any) -> None:
    instructor = await joined(connect, live.instructor, live.session)
    trainee = await joined(connect, live.trainee, live.session)
    opened = await instructor.request({"type": "poll.open", "prompt": "Pace?", "choices": ["Slower", "Good"]})
    poll = (await trainee.receive_type("poll.updated"))["data"]
    assert poll["id"] == opened["id"]
    slower, good = (c["id"] for c in poll["choices"])

    assert (await trainee.request({"type": "poll.vote", "poll_id": poll["id"], "choice_id": good}))["type"] == "ack"
    assert (await instructor.receive_type("poll.updated"))["data"]["total"] == 0  # the poll opening
    tally = (await instructor.receive_type("poll.updated"))["data"]
    assert [c["votes"] for c in tally["choices"]] == [0, 1]
    again = await trainee.request({"type": "poll.vote", "poll_id": poll["id"], "choice_id": slower})
    assert again["code"] == "already_voted"
    outside = await trainee.request({"type": "poll.vote", "poll_id": poll["id"], "choice_id": good + 999})
    assert outside["code"] == "invalid_choice"

    await instructor.request({"type": "poll.close", "poll_id": poll["id"]})
    update = await trainee.receive_type("poll.updated")
    while update["data"]["is_open"]:  # the tally after its own vote comes first
        update = await trainee.receive_type("poll.updated")
    assert update["data"]["total"] == 1
    late = await trainee.request({"type": "poll.vote", "poll_id": poll["id"], "choice_id": slower})
    assert late["code"] == "poll_closed"
    assert await sync_to_async(PollVote.objects.count)() == 1
    rejoined = await joined(connect, live.trainee, live.session)
    assert rejoined.welcome["polls"][0]["total"] == 1
    assert not (await sync_to_async(Poll.objects.get)(pk=poll["id"])).is_open


async def test_raised_hands_queue_for_the_instructor_who_lowers_them(connect: Any, live: Any) -> None:
    instructor = await joined(connect, live.instructor, live.session)
    trainee = await joined(connect, live.trainee, live.session)
    operator = await joined(connect, live.operator, live.session)
    await trainee.request({"type": "hand.raise"})
    queue = (await instructor.receive_type("hands.updated"))["data"]["queue"]
    assert [h["user_id"] for h in queue] == [live.trainee.pk]
    assert (await operator.request({"type": "hand.raise"}))["code"] == "forbidden"

    await instructor.request({"type": "hand.lower", "user_id": live.trainee.pk})
    assert (await instructor.receive_type("hands.updated"))["data"]["queue"] == []
    assert (await trainee.receive_type("hand.lowered"))["type"] == "hand.lowered"
    assert await operator.nothing_more()  # the queue is the moderators' business


# Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": 7}', "invalid_message"),
        ('{"type": "question.delete_all"}', "unknown_type"),
        ('{"type": "question.ask", "text": "' + "长" * 6000 + '"}', "too_large"),
    ],
    ids=["malformed", "not-an-object", "type-not-a-string", "unknown-type", "over-16KB"],
)
async def test_bad_frames_get_an_error_code_and_the_socket_keeps_serving(
    connect: Any, live: Any, frame: str, code: str
) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    await trainee.send(frame)
    assert (await trainee.receive())["code"] == code
    assert (await trainee.request({"type": "heartbeat"}))["type"] == "pong"
    assert await sync_to_async(Question.objects.count)() == 0


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"type": "question.ask", "text": 5}, "invalid_text", "text"),
        ({"type": "question.ask"}, "invalid_text", "text"),
        ({"type": "question.vote", "question_id": "16"}, "invalid_id", "question_id"),
        ({"type": "question.vote", "question_id": 16, "up": 1}, "invalid_vote", "up"),
        ({"type": "poll.vote", "poll_id": 1, "choice_id": True}, "invalid_choice", "choice_id"),
        ({"type": "sync", "after": 1.5}, "invalid_id", "after"),
        ({"type": "hand.lower", "user_id": [1]}, "invalid_id", "user_id"),
    ],
    ids=[
        "text-a-number",
        "text-missing",
        "id-a-string",
        "up-a-number",
        "choice-a-bool",
        "after-a-float",
        "user-a-list",
    ],
)
async def test_a_wrong_typed_field_gets_one_error_naming_it_and_the_socket_keeps_its_state(
    connect: Any, live: Any, frame: dict[str, Any], code: str, field: str
) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    asked = await trainee.request({"type": "question.ask", "text": "Before", "ref": 1})
    error = await trainee.request({**frame, "ref": "bad"})
    assert (error["type"], error["code"], error["ref"]) == ("error", code, "bad")
    assert f"`{field}`" in error["message"]
    # Still the same socket, with what it had: the question asked before, and asking again works.
    synced = await trainee.request({"type": "sync", "after": 0})
    assert [e["data"]["id"] for e in synced["events"] if e["type"] == "question.created"] == [asked["id"]]
    assert (await trainee.request({"type": "question.ask", "text": "After"}))["type"] == "ack"


async def test_errors_speak_the_users_language(connect: Any, live: Any) -> None:
    live.trainee.preferred_language = "zh-hans"
    await sync_to_async(live.trainee.save)()
    trainee = await joined(connect, live.trainee, live.session)
    await trainee.send("{not json")
    error = await trainee.receive()
    assert error["code"] == "malformed_json"
    assert error["message"] == "该消息不是有效的 JSON。"
    await trainee.send('{"type": "question.vote", "question_id": 999999}')
    assert (await trainee.receive_reply())["message"] == "该问题不存在。"


async def test_binary_frames_are_refused(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    await trainee.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await trainee.receive())["code"] == "invalid_message"


async def test_a_flood_is_rate_limited(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    for _ in range(25):
        await trainee.send({"type": "heartbeat"})
    replies = [await trainee.receive() for _ in range(25)]
    assert [r["type"] for r in replies].count("pong") == 20
    assert replies[-1]["code"] == "rate_limited"


# Losing the right to be there -----------------------------------------------------------


async def test_signing_out_closes_that_users_sockets(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)

    def sign_out() -> None:
        browser = Client()
        browser.force_login(live.trainee)
        browser.post("/en/accounts/logout/")

    await sync_to_async(sign_out)()
    frame, code = await refused_with(trainee)
    assert (frame["code"], code) == ("signed_out", CloseCode.SIGNED_OUT)
    assert (await instructor.request({"type": "heartbeat"}))["type"] == "pong"


async def test_losing_the_enrolment_closes_the_socket(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    operator = await joined(connect, live.operator, live.session)
    await sync_to_async(Enrolment.objects.filter(user=live.trainee).delete)()
    frame, code = await refused_with(trainee)
    assert (frame["code"], code) == ("role_changed", CloseCode.SIGNED_OUT)

    await sync_to_async(live.room.operators.remove)(live.operator)
    frame, code = await refused_with(operator)
    assert frame["code"] == "role_changed"


async def test_a_role_change_elsewhere_leaves_the_socket_open(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    elsewhere = uuid.uuid4()  # an enrolment in some other course, then its end
    await sync_to_async(Enrolment.objects.create)(user=live.trainee, course=live.course, course_key=elsewhere)
    await sync_to_async(Enrolment.objects.filter(course_key=elsewhere).delete)()
    await asyncio.sleep(0.2)
    assert (await trainee.request({"type": "heartbeat"}))["type"] == "pong"


# Presence -------------------------------------------------------------------------------


async def test_a_trainees_socket_is_their_remote_attendance(connect: Any, live: Any) -> None:
    from classrooms.models import AttendanceStay

    instructor = await joined(connect, live.instructor, live.session)
    trainee = await joined(connect, live.trainee, live.session)
    stays = sync_to_async(lambda: list(AttendanceStay.objects.filter(record__user=live.trainee)))
    assert [(s.source, s.ended_at) for s in await stays()] == [("remote", None)]
    assert (await instructor.receive_type("attendance.updated"))["type"] == "attendance.updated"

    before = (await stays())[0].last_seen_at
    await hub().report_presence()  # what the hub does every 10 s for the sockets it holds
    assert (await stays())[0].last_seen_at > before

    await trainee.close()
    assert (await stays())[0].ended_at is not None
    assert (await instructor.receive_type("attendance.updated"))["type"] == "attendance.updated"
    # Staff sockets are not attendance.
    assert not await sync_to_async(AttendanceStay.objects.exclude(record__user=live.trainee).exists)()


async def test_a_silent_socket_is_closed_and_its_stay_ended(connect: Any, live: Any) -> None:
    from classrooms.models import AttendanceStay

    trainee = await joined(connect, live.trainee, live.session)
    (socket,) = hub().local_sockets(live.session.pk)
    socket.last_heard -= 31  # no frame for over 30 seconds
    await hub().close_silent()
    frame, code = await refused_with(trainee)
    assert (frame["code"], code) == ("timeout", CloseCode.SILENT)
    stay = await sync_to_async(AttendanceStay.objects.get)(record__user=live.trainee)
    assert stay.ended_at is not None


async def test_hiding_a_question_takes_its_text_away_from_trainees_live_and_on_sync(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)
    asked = await trainee.request({"type": "question.ask", "text": "My phone number is 5550100"})
    before = (await trainee.receive_type("question.created"))["event_id"] - 1
    await instructor.request({"type": "question.moderate", "question_id": asked["id"], "action": "hide"})
    assert (await trainee.receive_type("question.hidden"))["data"] == {"id": asked["id"]}
    moderator_view = await instructor.receive_type("question.updated")
    assert moderator_view["data"]["hidden"] is True
    assert await trainee.nothing_more()  # the updated payload, text included, went to moderators only
    synced = await trainee.request({"type": "sync", "after": before})
    assert "5550100" not in str(synced)


async def test_the_instructor_ends_the_session_and_new_activity_is_refused(connect: Any, live: Any) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)
    assert (await trainee.request({"type": "session.state", "state": "ended"}))["code"] == "forbidden"
    assert (await instructor.request({"type": "session.state", "state": "ended"}))["type"] == "ack"
    assert (await trainee.receive_type("session.state"))["data"] == {"state": "ended"}
    assert (await trainee.request({"type": "question.ask", "text": "Too late?"}))["code"] == "session_ended"
    assert (await trainee.request({"type": "hand.raise"}))["code"] == "session_ended"
    assert (await instructor.request({"type": "session.state", "state": "live"}))["code"] == "session_ended"


async def test_the_periodic_role_check_closes_a_socket_whose_user_lost_the_right_behind_the_apps_back(
    connect: Any, live: Any
) -> None:
    trainee = await joined(connect, live.trainee, live.session)
    instructor = await joined(connect, live.instructor, live.session)
    # No signal fires for a queryset update: only the periodic re-check can notice.
    await sync_to_async(type(live.trainee).objects.filter(pk=live.trainee.pk).update)(is_active=False)
    await hub().recheck_roles()
    frame, code = await refused_with(trainee)
    assert (frame["code"], code) == ("forbidden_now", CloseCode.FORBIDDEN)
    assert (await instructor.request({"type": "heartbeat"}))["type"] == "pong"


def test_the_batched_role_check_agrees_with_the_single_one(live: Any) -> None:
    from classrooms.selectors import participants as participant_selectors

    users = [live.trainee, live.instructor, live.operator, live.admin, live.outsider]
    parts = participant_selectors.session_participants(session_id=live.session.pk, user_ids=[u.pk for u in users])
    for user in users:
        assert parts.get(user.pk) == participant_selectors.session_participant(session=live.session, user=user), user
    assert live.outsider.pk not in parts
