"""Questions and answers. Each write happens, and its event is recorded, before anything is broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import LiveSession, Question, QuestionVote, SessionState
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors import question_payload
from lms.errors import CorridorError

QUESTION_MAX_LENGTH = 500
ANSWER_MAX_LENGTH = 2000
QUESTIONS_PER_MINUTE = 5


def _clean_text(text: Any, *, limit: int, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise CorridorError("invalid_text", _("Write something first."))
    cleaned: str = text.strip()
    if len(cleaned) > limit:
        raise CorridorError(
            "text_too_long", _("%(field)s is limited to %(limit)d characters.") % {"field": field, "limit": limit}
        )
    return cleaned


def require_open(session: LiveSession) -> None:
    """Refuse new activity once the session has ended (read fresh: sockets hold old copies)."""
    if LiveSession.objects.filter(pk=session.pk, state=SessionState.ENDED).exists():
        raise CorridorError("session_ended", _("This session has ended."))


def question_get(*, session: LiveSession, question_id: Any, include_hidden: bool = True) -> Question:
    """The session's own question by id; an id from another session is as good as none."""
    if not isinstance(question_id, int) or isinstance(question_id, bool):
        raise CorridorError("invalid_id", _("A question id is a number."))
    question = Question.objects.select_related("author", "answered_by").filter(session=session, pk=question_id).first()
    if question is None or (question.hidden and not include_hidden):
        raise CorridorError("question_not_found", _("That question does not exist."), status=404)
    return question


@transaction.atomic
def question_ask(*, session: LiveSession, user: Any, text: Any) -> Question:
    require_open(session)
    text = _clean_text(text, limit=QUESTION_MAX_LENGTH, field=_("A question"))
    recent = Question.objects.filter(
        session=session, author=user, created_at__gte=timezone.now() - timedelta(minutes=1)
    ).count()
    if recent >= QUESTIONS_PER_MINUTE:
        raise CorridorError(
            "rate_limited",
            _("You can ask %(n)d questions a minute; please wait a moment.") % {"n": QUESTIONS_PER_MINUTE},
            status=429,
        )
    question = Question.objects.create(session=session, author=user, text=text)
    broadcast_on_commit(session, "question.created", question_payload(question))
    return question


@dataclass(frozen=True)
class VoteOutcome:
    question: Question
    changed: bool


@transaction.atomic
def question_vote(*, session: LiveSession, user: Any, question_id: Any, up: Any, announce: bool = True) -> VoteOutcome:
    """Upvote once, or take the vote back (`up` false). Hidden questions take no votes.

    With `announce` false the caller coalesces the new count into a later
    `question_votes_announce` (the live socket does, so a burst of votes is one event).
    """
    require_open(session)
    if not isinstance(up, bool):
        raise CorridorError("invalid_vote", _("A vote is up (true) or taken back (false)."))
    question = question_get(session=session, question_id=question_id, include_hidden=True)
    if question.hidden:
        raise CorridorError("question_hidden", _("That question has been hidden by a moderator."))
    if up:
        _vote, changed = QuestionVote.objects.get_or_create(question=question, user=user)
    else:
        changed = QuestionVote.objects.filter(question=question, user=user).delete()[0] > 0
    if changed:
        Question.objects.filter(pk=question.pk).update(vote_count=F("vote_count") + (1 if up else -1))
        question.refresh_from_db(fields=["vote_count"])
        if announce:
            broadcast_on_commit(session, "question.voted", {"id": question.pk, "votes": question.vote_count})
    return VoteOutcome(question=question, changed=changed)


@transaction.atomic
def question_votes_announce(*, session_id: int, question_ids: list[int]) -> int:
    """Broadcast the current vote counts of these questions (one event each); returns how many."""
    session = LiveSession.objects.get(pk=session_id)
    counts = Question.objects.filter(session=session, pk__in=question_ids, hidden=False).values_list("id", "vote_count")
    announced = 0
    for question_id, votes in counts:
        broadcast_on_commit(session, "question.voted", {"id": question_id, "votes": votes})
        announced += 1
    return announced


@transaction.atomic
def question_answer(*, session: LiveSession, user: Any, question_id: Any, text: Any) -> Question:
    question = question_get(session=session, question_id=question_id)
    if question.hidden:
        raise CorridorError("question_hidden", _("Unhide the question before answering it."))
    question.answer = _clean_text(text, limit=ANSWER_MAX_LENGTH, field=_("An answer"))
    question.answered = True
    question.answered_by = user
    question.answered_at = timezone.now()
    question.save(update_fields=["answer", "answered", "answered_by", "answered_at", "updated_at"])
    broadcast_on_commit(session, "question.updated", question_payload(question))
    return question


MODERATION_ACTIONS = {
    "pin": ("pinned", True),
    "unpin": ("pinned", False),
    "hide": ("hidden", True),
    "unhide": ("hidden", False),
    "mark_answered": ("answered", True),
    "mark_unanswered": ("answered", False),
}


@transaction.atomic
def question_moderate(*, session: LiveSession, user: Any, question_id: Any, action: Any) -> Question:
    if action not in MODERATION_ACTIONS:
        raise CorridorError("invalid_action", _("Unknown moderation action."))
    question = question_get(session=session, question_id=question_id)
    field, value = MODERATION_ACTIONS[action]
    setattr(question, field, value)
    question.save(update_fields=[field, "updated_at"])
    if question.hidden:
        # Moderators keep seeing it, greyed; everyone else only learns that it went away.
        broadcast_on_commit(session, "question.updated", question_payload(question), moderators_only=True)
        broadcast_on_commit(session, "question.hidden", {"id": question.pk})
    else:
        broadcast_on_commit(session, "question.updated", question_payload(question))
    return question
