"""Reads for the questions of a live session."""

from __future__ import annotations

from django.db.models import QuerySet

from classrooms.events import QuestionPayload
from classrooms.models import LiveSession, Question


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
