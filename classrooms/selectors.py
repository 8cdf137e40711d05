"""Reads for live sessions: who may take part, and the state a joining client starts from."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db.models import Count, Q, QuerySet

from classrooms.events import HandPayload, PollPayload, QuestionPayload
from classrooms.models import LiveEvent, LiveSession, Poll, Question, RaisedHand
from courses.models import Enrolment
from lms.accounts.roles import Role, user_roles


class Participant(StrEnum):
    INSTRUCTOR = "instructor"
    ADMINISTRATOR = "administrator"
    OPERATOR = "operator"
    TRAINEE = "trainee"


MODERATORS = frozenset({Participant.INSTRUCTOR, Participant.ADMINISTRATOR})


def session_participant(*, session: LiveSession, user: Any) -> Participant | None:
    """The part `user` plays in `session`, or None if they may not join it."""
    if not getattr(user, "is_authenticated", False):
        return None
    if session.instructor_id == user.pk:
        return Participant.INSTRUCTOR
    roles = user_roles(user)
    if Role.ADMINISTRATOR in roles:
        return Participant.ADMINISTRATOR
    if Role.OPERATOR in roles and session.rooms.filter(operators=user).exists():
        return Participant.OPERATOR
    if Enrolment.objects.filter(user=user, course_key=session.course.translation_key).exists():
        return Participant.TRAINEE
    return None


def question_payload(question: Question) -> QuestionPayload:
    author = question.author
    answered_by = question.answered_by
    return {
        "id": question.pk,
        "text": question.text,
        "author": author.get_full_name() or author.email.split("@")[0],
        "author_id": author.pk,
        "created_at": question.created_at.isoformat(),
        "votes": question.vote_count,
        "pinned": question.pinned,
        "hidden": question.hidden,
        "answered": question.answered,
        "answer": question.answer,
        "answered_by": (answered_by.get_full_name() or answered_by.email) if answered_by else "",
    }


def session_questions(*, session: LiveSession, include_hidden: bool) -> QuerySet[Question]:
    questions = Question.objects.filter(session=session).select_related("author", "answered_by")
    if not include_hidden:
        questions = questions.filter(hidden=False)
    return questions.order_by("-pinned", "-vote_count", "created_at")


def poll_payload(poll: Poll) -> PollPayload:
    counts = dict(poll.votes.values("choice_id").annotate(n=Count("id")).values_list("choice_id", "n"))
    choices = [{"id": c.pk, "text": c.text, "votes": counts.get(c.pk, 0)} for c in poll.choices.all()]
    return {
        "id": poll.pk,
        "prompt": poll.prompt,
        "is_open": poll.is_open,
        "choices": choices,  # type: ignore[typeddict-item]
        "total": sum(counts.values()),
    }


def hands_queue(*, session: LiveSession) -> list[HandPayload]:
    hands = RaisedHand.objects.filter(session=session, lowered_at__isnull=True).select_related("user")
    return [
        {"user_id": h.user_id, "name": h.user.get_full_name() or h.user.email, "raised_at": h.raised_at.isoformat()}
        for h in hands
    ]


def session_snapshot(*, session: LiveSession, participant: Participant, user: Any) -> dict[str, Any]:
    """Everything a client needs on joining, and the event id to resume from."""
    is_moderator = participant in MODERATORS
    last_event = LiveEvent.objects.filter(session=session).order_by("-id").values_list("id", flat=True).first()
    questions = session_questions(session=session, include_hidden=is_moderator)
    polls = Poll.objects.filter(session=session).prefetch_related("choices")
    my_votes = list(Question.objects.filter(session=session, votes__user=user).values_list("id", flat=True))
    return {
        "session": {
            "id": session.pk,
            "title": session.title,
            "state": session.state,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
        },
        "you": {"user_id": user.pk, "role": participant.value, "moderator": is_moderator},
        "last_event_id": last_event or 0,
        "questions": [question_payload(q) for q in questions],
        "my_votes": my_votes,
        "polls": [poll_payload(p) for p in polls],
        "hands": hands_queue(session=session) if is_moderator else [],
        "my_hand_raised": RaisedHand.objects.filter(session=session, user=user, lowered_at__isnull=True).exists(),
    }


def events_since(
    *, session: LiveSession, after_id: int, include_moderator_events: bool, limit: int = 500
) -> list[LiveEvent]:
    events = LiveEvent.objects.filter(session=session, id__gt=after_id)
    if not include_moderator_events:
        events = events.filter(Q(moderators_only=False))
    return list(events.order_by("id")[:limit])
