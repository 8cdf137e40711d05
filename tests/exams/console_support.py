"""A sitting in progress for the invigilator's console tests: candidates registered, papers prepared, checked in.

`paper_start` and `paper_saved` are what the candidate's exam page does (exams.attempts): start the paper, save an
answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from exams import attempts, selectors, services
from exams.models import Candidate, Paper, PaperRule, Sitting
from tests import factories


def sitting_in_progress(*, candidates: int = 3, duration_minutes: int = 60) -> tuple[Sitting, list[Candidate], Any]:
    """A sitting that started a minute ago, `candidates` registered before registration closed (papers prepared,
    all checked in), and an invigilator of its room."""
    exam = factories.ExamFactory.create(duration_minutes=duration_minutes)
    factories.QuestionFactory.create_batch(3, exam=exam)
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=2)
    sitting = factories.sitting(exam=exam, starts_in=-timedelta(minutes=1), closes_before=timedelta(minutes=1))
    registered_at = sitting.registration_closes_at - timedelta(seconds=1)
    invigilator = factories.invigilator(first_name="Hong", last_name="Zhao")
    sitting.room.invigilators.add(invigilator)
    registered = [
        services.candidate_register(
            sitting=sitting, user=factories.trainee(first_name=f"Cand{n}", last_name="Li"), now=registered_at
        )
        for n in range(1, candidates + 1)
    ]
    services.paper_prepare(sitting=sitting)
    for candidate in registered:
        services.candidate_check_in(sitting=sitting, token=selectors.slip_token(candidate=candidate), by=invigilator)
    return sitting, [Candidate.objects.select_related("paper").get(pk=c.pk) for c in registered], invigilator


def paper_start(candidate: Candidate, *, now: datetime | None = None) -> Paper:
    """The candidate starts their paper on their exam page, whose socket is connected."""
    now = now or timezone.now()
    paper = attempts.attempt_start(candidate_id=candidate.pk, by=candidate.user, now=now)
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.OPENED, now=now)
    paper.refresh_from_db()
    return paper


def paper_saved(candidate: Candidate, *, now: datetime | None = None) -> Paper:
    """The candidate answers their paper's first question; the answer reaches the server."""
    paper = Paper.objects.get(candidate=candidate)
    first = paper.items[0]
    attempts.answers_save(
        paper_id=paper.pk,
        by=candidate.user,
        answers=[attempts.AnswerIn(question=first["question"], seq=paper.last_seq + 1, choices=(first["choices"][0],))],
        now=now or timezone.now(),
    )
    paper.refresh_from_db()
    return paper
