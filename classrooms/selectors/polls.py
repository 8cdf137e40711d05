"""Reads for the polls of a live session."""

from __future__ import annotations

from django.db.models import Count

from classrooms.events import PollPayload
from classrooms.models import Poll


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
