"""Reads for taking an exam: a candidate's paper, its questions in their order, and its state for the exam page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exams import clock
from exams.models import Answer, Candidate, Paper, Question, QuestionKind


def _user_id(user: Any) -> int:
    """The user's id; 0 (no one's) for a visitor."""
    return int(getattr(user, "pk", None) or 0)


def candidate_of(*, candidate_id: int, user: Any) -> Candidate | None:
    """The user's own registration (None for anyone else's: its existence is not revealed)."""
    return (
        Candidate.objects.select_related("sitting__exam", "sitting__room")
        .filter(pk=candidate_id, user_id=_user_id(user))
        .first()
    )


def paper_of(*, paper_id: int, user: Any) -> Paper | None:
    """The user's own paper (None for anyone else's)."""
    return (
        Paper.objects.select_related("candidate__sitting__exam", "candidate__sitting__room")
        .filter(pk=paper_id, candidate__user_id=_user_id(user))
        .first()
    )


def paper_is_theirs(*, paper_id: int, user: Any) -> bool:
    return Paper.objects.filter(pk=paper_id, candidate__user_id=_user_id(user)).exists()


def paper_of_candidate(*, candidate: Candidate) -> Paper | None:
    return Paper.objects.filter(candidate=candidate).first()


@dataclass(frozen=True)
class PaperChoice:
    id: str
    text: str


@dataclass(frozen=True)
class PaperQuestion:
    number: int
    question: Question
    choices: list[PaperChoice]

    @property
    def is_choice(self) -> bool:
        return self.question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)

    @property
    def is_single(self) -> bool:
        return self.question.kind == QuestionKind.SINGLE_CHOICE

    @property
    def is_essay(self) -> bool:
        return self.question.kind == QuestionKind.ESSAY


def paper_questions(*, paper: Paper) -> list[PaperQuestion]:
    """The paper's questions in the candidate's order, each with its choices in the candidate's order (in the
    page's language when the bank has it)."""
    from exams.models import _in_language

    ids = [int(item["question"]) for item in paper.items]
    bank = Question.objects.in_bulk(ids)
    questions = []
    for number, item in enumerate(paper.items, start=1):
        question = bank[int(item["question"])]
        by_id = {str(choice["id"]): choice for choice in question.choices}
        choices = [
            PaperChoice(id=cid, text=_in_language(by_id[cid].get("text", ""), by_id[cid].get("text_zh", "")))
            for cid in item.get("choices", [])
            if cid in by_id
        ]
        questions.append(PaperQuestion(number=number, question=question, choices=choices))
    return questions


def paper_state(*, paper: Paper, now: datetime) -> dict[str, Any]:
    """What the exam page needs to show the paper as it is now: time left (the server's), paused, submitted, when
    answers last reached the server, and every saved answer with its sequence number."""
    duration = paper.candidate.sitting.exam.duration_minutes
    answers = {
        str(a.question_id): {"choices": a.choices, "text": a.text, "seq": a.seq}
        for a in Answer.objects.filter(paper=paper).only("question_id", "choices", "text", "seq")
    }
    return {
        "paper": paper.pk,
        "server_time": now.isoformat(),
        "started": paper.started_at is not None,
        "seconds_left": round(clock.seconds_left(paper, duration_minutes=duration, now=now), 1),
        "paused": paper.paused_at is not None,
        "submitted_at": paper.submitted_at.isoformat() if paper.submitted_at else None,
        "submitted_how": paper.submitted_how,
        "last_saved_at": paper.last_saved_at.isoformat() if paper.last_saved_at else None,
        "last_seq": paper.last_seq,
        "answers": answers,
    }


def seconds_left(*, paper: Paper, now: datetime) -> float:
    return clock.seconds_left(paper, duration_minutes=paper.candidate.sitting.exam.duration_minutes, now=now)
