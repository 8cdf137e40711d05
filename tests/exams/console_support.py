"""A sitting in progress for the invigilator's console tests: candidates registered, papers prepared, checked in.

`paper_start` and `paper_saved` stand in for the candidate's exam page (exams.attempts, built in parallel on another
branch): they set the same Paper fields and tell the pages with the same `papers_changed_on_commit` reasons. Once
that branch is merged, switch them to its services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from exams import selectors, services
from exams.live import papers_changed_on_commit
from exams.models import Candidate, Paper, PaperRule, Sitting
from tests import factories


def sitting_in_progress(*, candidates: int = 3, duration_minutes: int = 60) -> tuple[Sitting, list[Candidate], Any]:
    """A sitting starting in a few minutes, `candidates` registered (papers prepared, all checked in), and an
    invigilator of its room."""
    exam = factories.ExamFactory.create(duration_minutes=duration_minutes)
    factories.QuestionFactory.create_batch(3, exam=exam)
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=2)
    sitting = factories.sitting(exam=exam, starts_in=timedelta(minutes=5), closes_before=timedelta(minutes=1))
    invigilator = factories.invigilator(first_name="Hong", last_name="Zhao")
    sitting.room.invigilators.add(invigilator)
    registered = [
        services.candidate_register(sitting=sitting, user=factories.trainee(first_name=f"Cand{n}", last_name="Li"))
        for n in range(1, candidates + 1)
    ]
    services.paper_prepare(sitting=sitting)
    for candidate in registered:
        services.candidate_check_in(sitting=sitting, token=selectors.slip_token(candidate=candidate), by=invigilator)
    return sitting, [Candidate.objects.select_related("paper").get(pk=c.pk) for c in registered], invigilator


@transaction.atomic
def paper_start(candidate: Candidate, *, now: datetime | None = None) -> Paper:
    """The candidate starts their paper on their exam page (its socket is connected)."""
    now = now or timezone.now()
    paper = Paper.objects.select_for_update().get(candidate=candidate)
    paper.started_at, paper.online, paper.last_seen_at = now, True, now
    paper.save(update_fields=["started_at", "online", "last_seen_at"])
    papers_changed_on_commit(sitting_id=candidate.sitting_id, paper_ids=[paper.pk], reason="started")
    return paper


@transaction.atomic
def paper_saved(candidate: Candidate, *, now: datetime | None = None) -> Paper:
    """The candidate's answers reach the server."""
    now = now or timezone.now()
    paper = Paper.objects.select_for_update().get(candidate=candidate)
    paper.last_saved_at, paper.last_seq = now, paper.last_seq + 1
    paper.save(update_fields=["last_saved_at", "last_seq"])
    papers_changed_on_commit(sitting_id=candidate.sitting_id, paper_ids=[paper.pk], reason="saved")
    return paper
