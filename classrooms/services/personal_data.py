"""Erasing a person from live classes (lms.accounts.services.user_erase runs it; docs/privacy.md says why each
record is kept, scrubbed or removed)."""

from __future__ import annotations

from django.db import models, transaction

from classrooms.models import AuditEntry, LiveEvent, Question, Room
from classrooms.realtime import close_user_sockets
from classrooms.selectors.personal_data import sessions_touching
from lms.accounts.personal_data import ErasedPerson


def classrooms_erase_user(*, person: ErasedPerson) -> dict[str, int]:
    """Scrub `person` from live classes, inside the erasure's transaction.

    Kept, against the anonymised account: attendance (so a session's counts and the attendance figures stand),
    questions (for the class record: their author now reads "Erased user"), votes and raised hands. Scrubbed: every
    mention of their email or names in the sessions' live events (the outbox replayed to reconnecting pages), in
    questions' and answers' text, and in the audit log (whose rows are otherwise never changed). Removed: their
    place among rooms' operators. Their open sockets are closed once it commits."""
    user = person.user
    counts = {"live_events": 0, "questions": 0, "audit_entries": 0, "rooms_operated": 0}
    sessions = sessions_touching(user=user)
    for event in LiveEvent.objects.filter(session__in=sessions).only("pk", "payload").iterator():
        scrubbed = person.scrub(event.payload)
        if scrubbed != event.payload:
            LiveEvent.objects.filter(pk=event.pk).update(payload=scrubbed)
            counts["live_events"] += 1
    for question in Question.objects.filter(session__in=sessions).only("pk", "text", "answer"):
        text, answer = person.scrub(question.text), person.scrub(question.answer)
        if (text, answer) != (question.text, question.answer):
            Question.objects.filter(pk=question.pk).update(text=text, answer=answer)
            counts["questions"] += 1
    # The audit log refuses changes through its own queryset; erasure is the one change the law requires of it.
    audit_rows: models.QuerySet[AuditEntry] = models.QuerySet(model=AuditEntry)
    for entry in AuditEntry.objects.only("pk", "actor_id", "actor_name", "target", "details").iterator():
        actor_name = person.placeholder if entry.actor_id == user.pk else person.scrub(entry.actor_name)
        target, details = person.scrub(entry.target), person.scrub(entry.details)
        if (actor_name, target, details) != (entry.actor_name, entry.target, entry.details):
            audit_rows.filter(pk=entry.pk).update(actor_name=actor_name, target=target, details=details)
            counts["audit_entries"] += 1
    for room in Room.objects.filter(operators=user):
        room.operators.remove(user)
        counts["rooms_operated"] += 1
    transaction.on_commit(lambda: close_user_sockets(user.pk, message="This account was erased."))
    return counts
