"""Reads for the polls of a live session."""

from __future__ import annotations

from django.db.models import Count

from classrooms.events import PollPayload
from classrooms.models import Poll, PollVote


def poll_vote_counts(*, poll_ids: list[int]) -> dict[int, dict[int, int]]:
    """Per poll, its votes per choice, in one query for all of them."""
    counts: dict[int, dict[int, int]] = {}
    if poll_ids:
        rows = (
            PollVote.objects.filter(poll_id__in=poll_ids)
            .values("poll_id", "choice_id")
            .annotate(n=Count("id"))
            .values_list("poll_id", "choice_id", "n")
        )
        for poll_id, choice_id, n in rows:
            counts.setdefault(poll_id, {})[choice_id] = n
    return counts


def poll_payload(poll: Poll, counts: dict[int, int] | None = None) -> PollPayload:
    """`counts`: the poll's votes per choice if the caller has read them (`poll_vote_counts`)."""
    if counts is None:
        counts = dict(poll.votes.values("choice_id").annotate(n=Count("id")).values_list("choice_id", "n"))
    choices = [{"id": c.pk, "text": c.text, "votes": counts.get(c.pk, 0)} for c in poll.choices.all()]
    return {
        "id": poll.pk,
        "prompt": poll.prompt,
        "is_open": poll.is_open,
        "choices": choices,  # type: ignore[typeddict-item]
        "total": sum(counts.values()),
    }
