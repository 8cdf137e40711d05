"""The exam clock, which is the server's: what is left of a candidate's time, from their paper's fields.

A candidate's time runs from when they start, for the exam's duration plus any extra time, and stands still while
their paper is paused (an invigilator paused them or the whole room). Plain functions of the paper and `now`, so
the candidate's page, the invigilator's console and the time-up task all agree."""

from __future__ import annotations

from datetime import datetime, timedelta

from exams.models import Paper


def paused_for(paper: Paper, *, now: datetime) -> timedelta:
    """How long the paper has been paused in all, the pause still running included."""
    running = now - paper.paused_at if paper.paused_at is not None else timedelta(0)
    return timedelta(seconds=paper.paused_seconds) + max(running, timedelta(0))


def allowed(paper: Paper, *, duration_minutes: int) -> timedelta:
    """The candidate's whole time: the exam's duration and the extra time given."""
    return timedelta(minutes=duration_minutes, seconds=paper.extra_seconds)


def seconds_left(paper: Paper, *, duration_minutes: int, now: datetime) -> float:
    """Seconds the candidate has left (the whole time before they start; 0 once submitted or out of time)."""
    if paper.submitted_at is not None:
        return 0.0
    if paper.started_at is None:
        return allowed(paper, duration_minutes=duration_minutes).total_seconds()
    used = now - paper.started_at - paused_for(paper, now=now)
    return max(0.0, (allowed(paper, duration_minutes=duration_minutes) - used).total_seconds())


def due_at(paper: Paper, *, duration_minutes: int, now: datetime) -> datetime | None:
    """When time will be up if nothing changes: None before the start, after submission and while paused."""
    if paper.started_at is None or paper.submitted_at is not None or paper.paused_at is not None:
        return None
    return now + timedelta(seconds=seconds_left(paper, duration_minutes=duration_minutes, now=now))


def time_is_up(paper: Paper, *, duration_minutes: int, now: datetime) -> bool:
    """Started, not submitted, not paused, and no time left."""
    return (
        paper.started_at is not None
        and paper.submitted_at is None
        and paper.paused_at is None
        and seconds_left(paper, duration_minutes=duration_minutes, now=now) <= 0
    )
