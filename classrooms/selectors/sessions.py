"""Reads for live sessions: what a joining client starts from, what it missed, which session a course page offers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Case, Q, QuerySet, Value, When

from classrooms.models import LiveEvent, LiveSession, Poll, Question, RaisedHand, SessionState
from classrooms.selectors.attendance import presence_now
from classrooms.selectors.hands import hands_queue
from classrooms.selectors.participants import MODERATORS, Participant
from classrooms.selectors.polls import poll_payload, poll_vote_counts
from classrooms.selectors.qa import question_payload, session_questions
from courses.models import CourseTeacher, Enrolment
from lms.accounts.roles import Role, user_roles


def session_snapshot(*, session: LiveSession, participant: Participant, user: Any) -> dict[str, Any]:
    """Everything a client needs on joining, and the event id to resume from (read afresh)."""
    is_moderator = participant in MODERATORS
    shared = session_shared_snapshot(session=session, include_hidden=is_moderator)
    # Whether it is recorded is read again: a socket's session object is as old as the socket.
    recorded = bool(LiveSession.objects.filter(pk=session.pk, recorded=True).exists())
    return session_snapshot_for(
        session=session,
        recorded=recorded,
        participant=participant,
        user=user,
        shared=shared,
        personal=session_personal_snapshot(session=session, participant=participant, user=user),
    )


def session_shared_snapshot(*, session: LiveSession, include_hidden: bool) -> dict[str, Any]:
    """The part of the snapshot that is the same for every trainee (or, with hidden questions, every moderator):
    the questions, the polls and the event id to resume from, in four queries whatever their number.

    The last event id is read first: whatever the rest shows that is newer comes again as an event, which a
    client applies once more (events carry whole states, not differences)."""
    last_event = LiveEvent.objects.filter(session=session).order_by("-id").values_list("id", flat=True).first()
    questions = session_questions(session=session, include_hidden=include_hidden)
    polls = list(Poll.objects.filter(session=session).prefetch_related("choices"))
    counts = poll_vote_counts(poll_ids=[p.pk for p in polls])
    return {
        "last_event_id": last_event or 0,
        "questions": [question_payload(q) for q in questions],
        "polls": [poll_payload(p, counts=counts.get(p.pk, {})) for p in polls],
    }


def session_personal_snapshot(
    *,
    session: LiveSession,
    participant: Participant,
    user: Any,
    hand_raised: bool | None = None,
    has_voted: bool = True,
) -> dict[str, Any]:
    """The user's own part of the snapshot: their votes, their hand, and for moderators the hands and who is here.
    `hand_raised`, `has_voted`: when the caller has read them already (classrooms.selectors.participants.
    session_entry). A trainee whose hand and votes are known gets their part without a query."""
    is_moderator = participant in MODERATORS
    if hand_raised is None:
        hand_raised = RaisedHand.objects.filter(session=session, user=user, lowered_at__isnull=True).exists()
    my_votes = (
        list(Question.objects.filter(session=session, votes__user=user).values_list("id", flat=True))
        if has_voted
        else []
    )
    return {
        "my_votes": my_votes,
        "hands": hands_queue(session=session) if is_moderator else [],
        "my_hand_raised": hand_raised,
        # Who is here: the same payload as the moderators' "attendance.updated" events.
        "attendance": presence_now(session=session) if is_moderator else None,
    }


def session_snapshot_for(
    *,
    session: LiveSession,
    recorded: bool,
    participant: Participant,
    user: Any,
    shared: dict[str, Any],
    personal: dict[str, Any],
) -> dict[str, Any]:
    """The welcome's data from its parts (no query)."""
    return {
        "session": {
            "id": session.pk,
            "title": session.title,
            "state": session.state,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            # "session.recording" events change it.
            "recorded": recorded,
        },
        "you": {"user_id": user.pk, "role": participant.value, "moderator": participant in MODERATORS},
        "last_event_id": shared["last_event_id"],
        "questions": shared["questions"],
        "my_votes": personal["my_votes"],
        "polls": shared["polls"],
        "hands": personal["hands"],
        "my_hand_raised": personal["my_hand_raised"],
        "attendance": personal["attendance"],
    }


# The most events one `sync` answer (or a catch-up after a layer outage) carries; beyond it, a fresh welcome.
SYNC_LIMIT = 500


def events_since(
    *, session: LiveSession, after_id: int, include_moderator_events: bool, limit: int = SYNC_LIMIT
) -> list[LiveEvent]:
    events = LiveEvent.objects.filter(session=session, id__gt=after_id)
    if include_moderator_events:
        return list(events.order_by("id")[:limit])
    found = list(events.filter(Q(moderators_only=False)).order_by("id")[:limit])
    # A question hidden since it was asked is not replayed to those who may not see it.
    hidden = set(Question.objects.filter(session=session, hidden=True).values_list("id", flat=True))
    return [
        event
        for event in found
        if not (event.kind in {"question.created", "question.updated"} and event.payload.get("id") in hidden)
    ]


def joinable_session_for_course(*, user: Any, course_key: UUID, now: datetime) -> LiveSession | None:
    """The course's session that is live now, or else its next scheduled one, if `user` may join it.

    Who may join is `session_participant`'s rule: the instructor, an administrator, the course's teaching team, an
    operator of one of its rooms, or a trainee enrolled in the course (in any language). One query (the
    user's roles are cached on the user).
    """
    if not getattr(user, "is_authenticated", False):
        return None
    sessions = LiveSession.objects.filter(course__translation_key=course_key).filter(
        Q(state=SessionState.LIVE) | Q(state=SessionState.SCHEDULED, ends_at__gte=now)
    )
    if Role.ADMINISTRATOR not in user_roles(user):
        may_join = (
            Q(instructor=user)
            | Q(one_to_one_with=user)
            | Q(
                one_to_one_with__isnull=True,
                course__translation_key__in=Enrolment.objects.filter(user=user).values("course_key"),
            )
            | Q(one_to_one_with__isnull=True, course__translation_key__in=_keys_taught(user))
        )
        if Role.OPERATOR in user_roles(user):
            may_join |= Q(
                pk__in=LiveSession.rooms.through.objects.filter(room__operators=user).values("livesession_id")
            )
        sessions = sessions.filter(may_join)
    # A one-to-one is offered only to its two people (an administrator opens it from its page, not a course's).
    sessions = sessions.filter(Q(one_to_one_with__isnull=True) | Q(one_to_one_with=user) | Q(instructor=user))
    live_first = Case(When(state=SessionState.LIVE, then=Value(0)), default=Value(1))
    return sessions.order_by(live_first, "starts_at", "pk").first()


def sessions_overdue(*, now: datetime, grace: timedelta) -> list[LiveSession]:
    """Sessions still live `grace` after their scheduled end (the auto-end sweep then asks who still publishes)."""
    return list(LiveSession.objects.filter(state=SessionState.LIVE, ends_at__lt=now - grace).order_by("pk"))


def sessions_managed_by(*, user: Any) -> QuerySet[LiveSession]:
    """The sessions `user` may see and edit in the admin: an administrator every one, an instructor their own and
    those of the courses they teach (but another's one-to-one)."""
    if Role.ADMINISTRATOR in user_roles(user):
        return LiveSession.objects.all()
    if not getattr(user, "is_authenticated", False):
        return LiveSession.objects.none()
    return LiveSession.objects.filter(
        Q(instructor=user) | Q(one_to_one_with__isnull=True, course__translation_key__in=_keys_taught(user))
    )


def _keys_taught(user: Any) -> QuerySet[CourseTeacher, Any]:
    """The courses `user` is on the teaching team of (a subquery)."""
    return CourseTeacher.objects.filter(user=user).values_list("course_key", flat=True)
