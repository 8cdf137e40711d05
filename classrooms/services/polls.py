from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import LiveSession, Poll, PollChoice, PollVote
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors.polls import poll_payload
from classrooms.services.qa import require_open
from lms.accounts.models import User
from lms.errors import CorridorError

MAX_CHOICES = 8


def _poll_get(*, session: LiveSession, poll_id: int) -> Poll:
    poll = Poll.objects.filter(session=session, pk=poll_id).first()
    if poll is None:
        raise CorridorError("poll_not_found", _("That poll does not exist."), status=404)
    return poll


@transaction.atomic
def poll_open(*, session: LiveSession, user: User, prompt: str, choices: Sequence[str]) -> Poll:
    require_open(session)
    if not prompt.strip() or len(prompt) > 300:
        raise CorridorError("invalid_poll", _("A poll needs a question of up to 300 characters."))
    if not 2 <= len(choices) <= MAX_CHOICES or not all(c.strip() and len(c) <= 200 for c in choices):
        raise CorridorError("invalid_poll", _("A poll needs 2 to %(n)d choices.") % {"n": MAX_CHOICES})
    poll = Poll.objects.create(session=session, prompt=prompt.strip())
    PollChoice.objects.bulk_create(
        PollChoice(poll=poll, text=text.strip(), position=index) for index, text in enumerate(choices)
    )
    broadcast_on_commit(session, "poll.updated", poll_payload(poll))
    return poll


@transaction.atomic
def poll_vote(*, session: LiveSession, user: User, poll_id: int, choice_id: int) -> Poll:
    require_open(session)
    poll = _poll_get(session=session, poll_id=poll_id)
    if not poll.is_open:
        raise CorridorError("poll_closed", _("This poll is closed."))
    choice = poll.choices.filter(pk=choice_id).first()
    if choice is None:
        raise CorridorError("invalid_choice", _("That is not one of the poll's choices."))
    try:
        with transaction.atomic():
            PollVote.objects.create(poll=poll, choice=choice, user=user)
    except IntegrityError:
        raise CorridorError("already_voted", _("You have already voted in this poll.")) from None
    broadcast_on_commit(session, "poll.updated", poll_payload(poll))
    return poll


@transaction.atomic
def poll_close(*, session: LiveSession, user: User, poll_id: int) -> Poll:
    poll = _poll_get(session=session, poll_id=poll_id)
    if poll.is_open:
        poll.is_open = False
        poll.closed_at = timezone.now()
        poll.save(update_fields=["is_open", "closed_at"])
        broadcast_on_commit(session, "poll.updated", poll_payload(poll))
    return poll
