"""Questions and answers. Each write happens, and its event is recorded, before anything is broadcast."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from classrooms.models import LiveSession, Question, QuestionVote, SessionState
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors.qa import question_payload
from classrooms.xapi import xapi_question_asked
from lms.accounts.models import User
from lms.errors import CorridorError

QUESTION_MAX_LENGTH = 500
ANSWER_MAX_LENGTH = 2000
QUESTIONS_PER_MINUTE = 5


def _clean_text(text: str, *, limit: int, field: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise CorridorError("invalid_text", _("Write something first."))
    if len(cleaned) > limit:
        raise CorridorError(
            "text_too_long", _("%(field)s is limited to %(limit)d characters.") % {"field": field, "limit": limit}
        )
    return cleaned


def require_open(session: LiveSession) -> None:
    """Refuse new activity once the session has ended (read fresh: sockets hold old copies)."""
    if LiveSession.objects.filter(pk=session.pk, state=SessionState.ENDED).exists():
        raise CorridorError("session_ended", _("This session has ended."))


def question_get(*, session: LiveSession, question_id: int, include_hidden: bool = True) -> Question:
    """The session's own question by id; an id from another session is as good as none."""
    question = Question.objects.select_related("author", "answered_by").filter(session=session, pk=question_id).first()
    if question is None or (question.hidden and not include_hidden):
        raise CorridorError("question_not_found", _("That question does not exist."), status=404)
    return question


@transaction.atomic
def question_ask(*, session: LiveSession, user: User, text: str) -> Question:
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
    xapi_question_asked(question=question)
    return question


@dataclass(frozen=True)
class VoteOutcome:
    question: Question
    changed: bool


@transaction.atomic
def question_vote(
    *, session: LiveSession, user: User, question_id: int, up: bool, announce: bool = True
) -> VoteOutcome:
    """Upvote once, or take the vote back (`up` false). Hidden questions take no votes.

    With `announce` false the caller coalesces the new count into a later
    `question_votes_announce` (the live socket does, so a burst of votes is one event).
    """
    outcome = question_votes_apply(session_id=session.pk, votes=[VoteRequest(user.pk, question_id, up)])[0]
    if isinstance(outcome, CorridorError):
        raise outcome
    if outcome.changed and announce:
        question_votes_announce(session_id=session.pk, question_ids=[outcome.question.pk])
    return outcome


@dataclass(frozen=True)
class VoteRequest:
    user_id: int
    question_id: int
    up: bool


@transaction.atomic
def question_votes_apply(*, session_id: int, votes: Sequence[VoteRequest]) -> list[VoteOutcome | CorridorError]:
    """Apply many users' votes in one transaction; one outcome (or the error) per vote, in order.

    The live socket batches the votes arriving within a few milliseconds into one call: a
    class of 2,000 voting at once is a few dozen transactions, not 2,000. Votes apply in order
    (a user's upvote then take-back in one batch nets to nothing). Counts are recounted from
    the votes themselves, under the questions' row locks, so a vote written concurrently by another process is never
    lost.
    Arguments are typed at the edge (`classrooms.messages.QuestionVote`). Error messages are lazy: each is
    rendered in its own voter's language, not in that of whoever's vote started the batch.
    """
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None or session.state == SessionState.ENDED:
        ended = CorridorError("session_ended", gettext_lazy("This session has ended."))
        return [ended for _vote in votes]
    questions = {q.pk: q for q in Question.objects.filter(session=session, pk__in={v.question_id for v in votes})}
    initial = set(
        QuestionVote.objects.filter(question_id__in=questions, user_id__in={v.user_id for v in votes}).values_list(
            "question_id", "user_id"
        )
    )
    voted = set(initial)
    results: list[tuple[Question, bool] | CorridorError] = []
    for vote in votes:
        question = questions.get(vote.question_id)
        if question is None:
            results.append(
                CorridorError("question_not_found", gettext_lazy("That question does not exist."), status=404)
            )
            continue
        if question.hidden:
            results.append(
                CorridorError("question_hidden", gettext_lazy("That question has been hidden by a moderator."))
            )
            continue
        key = (question.pk, vote.user_id)
        changed = (key in voted) != vote.up
        if vote.up:
            voted.add(key)
        else:
            voted.discard(key)
        results.append((question, changed))
    QuestionVote.objects.bulk_create(
        [QuestionVote(question_id=q, user_id=u) for q, u in voted - initial], ignore_conflicts=True
    )
    gone: dict[int, set[int]] = {}
    for question_id, user_id in initial - voted:
        gone.setdefault(question_id, set()).add(user_id)
    for question_id, user_ids in gone.items():
        QuestionVote.objects.filter(question_id=question_id, user_id__in=user_ids).delete()
    touched = {q for q, _u in voted ^ initial}
    if touched:
        # Lock the questions first, in one order, so that another process's batch on them has committed before the
        # recount's statement (and snapshot) starts. Without it, the recount would wait on that batch's row lock
        # with a snapshot taken before it committed, and write a count that misses its votes.
        list(Question.objects.select_for_update().filter(pk__in=touched).order_by("pk").values_list("pk"))
        count = QuestionVote.objects.filter(question=OuterRef("pk")).values("question").annotate(n=Count("pk"))
        Question.objects.filter(pk__in=touched).update(vote_count=Coalesce(Subquery(count.values("n")), Value(0)))
        for question_id, vote_count in Question.objects.filter(pk__in=touched).values_list("pk", "vote_count"):
            questions[question_id].vote_count = vote_count
    return [
        result if isinstance(result, CorridorError) else VoteOutcome(question=result[0], changed=result[1])
        for result in results
    ]


@transaction.atomic
def question_votes_announce(*, session_id: int, question_ids: list[int]) -> int:
    """Broadcast the current vote counts of these questions in one `questions.voted` event; returns how many."""
    session = LiveSession.objects.get(pk=session_id)
    counts = [
        {"id": question_id, "votes": votes}
        for question_id, votes in Question.objects.filter(session=session, pk__in=question_ids, hidden=False)
        .order_by("pk")
        .values_list("id", "vote_count")
    ]
    if counts:
        broadcast_on_commit(session, "questions.voted", {"counts": counts})
    return len(counts)


@transaction.atomic
def question_answer(*, session: LiveSession, user: User, question_id: int, text: str) -> Question:
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


ModerationAction = Literal["pin", "unpin", "hide", "unhide", "mark_answered", "mark_unanswered"]
MODERATION_ACTIONS: dict[ModerationAction, tuple[str, bool]] = {
    "pin": ("pinned", True),
    "unpin": ("pinned", False),
    "hide": ("hidden", True),
    "unhide": ("hidden", False),
    "mark_answered": ("answered", True),
    "mark_unanswered": ("answered", False),
}


@transaction.atomic
def question_moderate(*, session: LiveSession, user: User, question_id: int, action: ModerationAction) -> Question:
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
