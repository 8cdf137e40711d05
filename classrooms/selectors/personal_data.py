"""What classrooms holds about a person, for their data export (lms.accounts.personal_data)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from classrooms.models import (
    AttendanceCheckin,
    AttendanceRecord,
    AuditEntry,
    LiveSession,
    PollVote,
    Question,
    QuestionVote,
    RaisedHand,
    Room,
)


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def sessions_touching(*, user: Any) -> QuerySet[LiveSession]:
    """Every live session `user` took part in: taught, attended, asked, voted, raised a hand or checked in."""
    return LiveSession.objects.filter(
        Q(instructor=user)
        | Q(attendance__user=user)
        | Q(questions__author=user)
        | Q(questions__votes__user=user)
        | Q(polls__votes__user=user)
        | Q(raised_hands__user=user)
        | Q(checkins__user=user)
    ).distinct()


def classroom_records_of(*, user: Any) -> dict[str, Any]:
    """A person's records in live classes: attendance (with each stretch and check-in), questions they asked and
    voted for, poll votes, raised hands, sessions they taught, rooms they operate, and their entries in the audit
    log."""
    records = AttendanceRecord.objects.filter(user=user).select_related("session").prefetch_related("stays__room")
    return {
        "attendance": [
            {
                "session": record.session.title,
                "session_id": record.session_id,
                "recording_consent": record.recording_consent,
                "recording_consent_at": _when(record.recording_consent_at),
                "stays": [
                    {
                        "source": stay.source,
                        "room": stay.room.name if stay.room else "",
                        "started_at": _when(stay.started_at),
                        "ended_at": _when(stay.ended_at),
                    }
                    for stay in record.stays.all()
                ],
            }
            for record in records.order_by("session__starts_at")
        ],
        "checkins": [
            {"session_id": row.session_id, "room": row.room.name, "at": _when(row.checked_in_at)}
            for row in AttendanceCheckin.objects.filter(user=user).select_related("room").order_by("checked_in_at")
        ],
        "questions": [
            {
                "session_id": question.session_id,
                "text": question.text,
                "asked_at": _when(question.created_at),
                "votes": question.vote_count,
                "answered": question.answered,
                "answer": question.answer,
                "hidden": question.hidden,
            }
            for question in Question.objects.filter(author=user).order_by("created_at")
        ],
        "question_votes": [
            {"question": vote.question.text, "session_id": vote.question.session_id}
            for vote in QuestionVote.objects.filter(user=user).select_related("question").order_by("pk")
        ],
        "poll_votes": [
            {"poll": vote.poll.prompt, "choice": vote.choice.text, "session_id": vote.poll.session_id}
            for vote in PollVote.objects.filter(user=user).select_related("poll", "choice").order_by("pk")
        ],
        "raised_hands": [
            {"session_id": hand.session_id, "raised_at": _when(hand.raised_at), "lowered_at": _when(hand.lowered_at)}
            for hand in RaisedHand.objects.filter(user=user).order_by("raised_at")
        ],
        "sessions_taught": [
            {"session_id": session.pk, "title": session.title, "starts_at": _when(session.starts_at)}
            for session in LiveSession.objects.filter(instructor=user).order_by("starts_at")
        ],
        "rooms_operated": list(Room.objects.filter(operators=user).order_by("name").values_list("name", flat=True)),
        "audit_log": [
            {
                "at": _when(entry.at),
                "action": entry.action,
                "target": entry.target,
                "result": entry.result,
                "address": entry.address,
                "details": entry.details,
            }
            for entry in AuditEntry.objects.filter(actor=user).order_by("at", "pk")
        ],
    }
