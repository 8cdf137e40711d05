"""Writes of the invigilator's console: pause, resume and extra time for one candidate or the whole room, and the
incident log (issue 16, item 6).

Who: the sitting's exam room's invigilators, and administrators (who run every room, as for check-in:
`selectors.user_invigilates`). Anyone else is refused with nothing changed.

Every action needs a cause (a category) and an explanation, and is audited by an `InvigilationAction` row written
in the same transaction as the change to the papers; the papers are locked (SELECT … FOR UPDATE) first, so an action
and the candidate's own submission cannot both apply to a paper's old state. Once it commits, the candidates' pages
and the sitting's consoles are told (`exams.live.papers_changed_on_commit`): the change takes effect there at once.

The clock stays the server's (exams.clock): a pause sets `paused_at`; a resume adds the pause to `paused_seconds`
and clears `paused_at`; extra time adds to `extra_seconds`. Room actions apply to every paper they can: a room pause
to every started, unsubmitted, running paper; a room resume to every paused one; room extra time to every
unsubmitted paper, started or not. Incidents and actions are append-only: nothing edits or deletes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from exams import clock, selectors
from exams.live import papers_changed_on_commit
from exams.models import (
    ActionCause,
    ActionKind,
    Candidate,
    Incident,
    IncidentCategory,
    InvigilationAction,
    Paper,
    Sitting,
)
from lms.errors import CorridorError

# Extra time is given in minutes on the console; at most this much in one action.
MAX_EXTRA_SECONDS = 3 * 60 * 60
MAX_TEXT_LENGTH = 2000


def _check_invigilator(*, sitting: Sitting, by: Any) -> None:
    if not selectors.user_invigilates(user=by, room=sitting.room):
        raise CorridorError(
            "forbidden", _("Only this exam room's invigilators and administrators run its sittings."), status=403
        )


def _check_candidate(*, sitting: Sitting, candidate: Candidate | None) -> None:
    if candidate is not None and candidate.sitting_id != sitting.pk:
        raise CorridorError("not_found", _("That candidate is not registered for this sitting."), status=404)


def _checked_text(text: str, *, missing: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CorridorError("explanation_missing", missing)
    if len(text) > MAX_TEXT_LENGTH:
        raise CorridorError(
            "too_long", _("Keep it under %(count)d characters.") % {"count": MAX_TEXT_LENGTH}, status=400
        )
    return text


def _checked_cause(cause: str) -> str:
    if cause not in ActionCause.values:
        raise CorridorError("cause_missing", _("Choose the cause of this action."))
    return cause


def _locked_papers(*, sitting: Sitting, candidate: Candidate | None) -> list[Paper]:
    """The sitting's (or the candidate's) papers, locked in a fixed order, with their exams' durations at hand."""
    papers = Paper.objects.select_for_update().filter(candidate__sitting=sitting)
    if candidate is not None:
        papers = papers.filter(candidate=candidate)
    return list(papers.order_by("pk"))


def _paper_of(papers: list[Paper], candidate: Candidate) -> Paper:
    if not papers:
        raise CorridorError("no_paper", _("This candidate has no paper yet."), status=409)
    return papers[0]


@dataclass(frozen=True)
class _Action:
    """What every console action starts from, once its checks passed: the sitting and its papers (or the
    candidate's) locked, and the cause and explanation it will be audited with."""

    sitting: Sitting
    papers: list[Paper]
    cause: str
    explanation: str


def _action_begin(
    *,
    sitting: Sitting,
    candidate: Candidate | None,
    by: Any,
    cause: str,
    explanation: str,
    missing: str,
    seconds: int | None = None,
) -> _Action:
    """The checks every console action makes, in the same order (who acts, on whom, how much, why), then the
    sitting's lock and its papers'."""
    _check_invigilator(sitting=sitting, by=by)
    _check_candidate(sitting=sitting, candidate=candidate)
    if seconds is not None and not 60 <= seconds <= MAX_EXTRA_SECONDS:
        raise CorridorError("invalid_seconds", _("Give between 1 minute and 3 hours of extra time."))
    cause = _checked_cause(cause)
    explanation = _checked_text(explanation, missing=missing)
    locked = Sitting.objects.select_for_update().select_related("exam").get(pk=sitting.pk)
    papers = _locked_papers(sitting=locked, candidate=candidate)
    return _Action(sitting=locked, papers=papers, cause=cause, explanation=explanation)


def _audit(
    *,
    sitting: Sitting,
    candidate: Candidate | None,
    kind: ActionKind,
    cause: str,
    explanation: str,
    by: Any,
    now: datetime,
    changed: list[Paper],
    seconds: int = 0,
    reason: str,
) -> InvigilationAction:
    action = InvigilationAction.objects.create(
        sitting=sitting,
        candidate=candidate,
        kind=kind,
        seconds=seconds,
        cause=cause,
        explanation=explanation,
        papers_changed=len(changed),
        by=by,
        at=now,
    )
    papers_changed_on_commit(sitting_id=sitting.pk, paper_ids=[p.pk for p in changed], reason=reason)
    return action


@transaction.atomic
def papers_pause(
    *,
    sitting: Sitting,
    candidate: Candidate | None,
    cause: str,
    explanation: str,
    by: Any,
    now: datetime | None = None,
) -> InvigilationAction:
    """Pause one candidate's paper (or, with no candidate, every running paper of the room): their clock stands
    still until resumed. Refused when the paper is not started, already submitted, already paused or out of time;
    a room pause is refused when no paper is running."""
    now = now or timezone.now()
    action = _action_begin(
        sitting=sitting,
        candidate=candidate,
        by=by,
        cause=cause,
        explanation=explanation,
        missing=_("Explain why you pause: it goes into the sitting's record."),
    )
    duration, papers = action.sitting.exam.duration_minutes, action.papers
    if candidate is not None:
        paper = _paper_of(papers, candidate)
        if paper.started_at is None:
            raise CorridorError("not_started", _("This candidate has not started yet."), status=409)
        if paper.submitted_at is not None:
            raise CorridorError("already_submitted", _("This candidate has already submitted."), status=409)
        if paper.paused_at is not None:
            raise CorridorError("already_paused", _("This candidate is already paused."), status=409)
        if clock.time_is_up(paper, duration_minutes=duration, now=now):
            raise CorridorError("time_up", _("This candidate's time is already up."), status=409)
    running = [
        p
        for p in papers
        if p.started_at is not None
        and p.submitted_at is None
        and p.paused_at is None
        and not clock.time_is_up(p, duration_minutes=duration, now=now)
    ]
    if not running:
        raise CorridorError("nothing_to_pause", _("No candidate is working on their paper now."), status=409)
    for paper in running:
        paper.paused_at = now
        paper.save(update_fields=["paused_at"])
    return _audit(
        sitting=action.sitting,
        candidate=candidate,
        kind=ActionKind.PAUSE,
        cause=action.cause,
        explanation=action.explanation,
        by=by,
        now=now,
        changed=running,
        reason="paused",
    )


@transaction.atomic
def papers_resume(
    *,
    sitting: Sitting,
    candidate: Candidate | None,
    cause: str,
    explanation: str,
    by: Any,
    now: datetime | None = None,
) -> InvigilationAction:
    """Resume one candidate's paused paper (or every paused paper of the room): the pause is added to the time
    not counted. Refused when nothing is paused."""
    now = now or timezone.now()
    action = _action_begin(
        sitting=sitting,
        candidate=candidate,
        by=by,
        cause=cause,
        explanation=explanation,
        missing=_("Explain why you resume: it goes into the sitting's record."),
    )
    papers = action.papers
    if candidate is not None:
        _paper_of(papers, candidate)
    paused = [p for p in papers if p.paused_at is not None and p.submitted_at is None]
    if not paused:
        message = _("This candidate is not paused.") if candidate is not None else _("No candidate is paused.")
        raise CorridorError("not_paused", message, status=409)
    for paper in paused:
        assert paper.paused_at is not None
        paper.paused_seconds = int(clock.paused_for(paper, now=now).total_seconds())
        paper.paused_at = None
        paper.save(update_fields=["paused_seconds", "paused_at"])
    return _audit(
        sitting=action.sitting,
        candidate=candidate,
        kind=ActionKind.RESUME,
        cause=action.cause,
        explanation=action.explanation,
        by=by,
        now=now,
        changed=paused,
        reason="resumed",
    )


@transaction.atomic
def papers_extra_time(
    *,
    sitting: Sitting,
    candidate: Candidate | None,
    seconds: int,
    cause: str,
    explanation: str,
    by: Any,
    now: datetime | None = None,
) -> InvigilationAction:
    """Give `seconds` of extra time to one candidate (or to every unsubmitted paper of the room, started or not).
    Refused for a submitted paper, and when the time is not between one minute and three hours."""
    now = now or timezone.now()
    action = _action_begin(
        sitting=sitting,
        candidate=candidate,
        by=by,
        cause=cause,
        explanation=explanation,
        missing=_("Explain why you give extra time: it goes into the sitting's record."),
        seconds=seconds,
    )
    papers = action.papers
    if candidate is not None and _paper_of(papers, candidate).submitted_at is not None:
        raise CorridorError("already_submitted", _("This candidate has already submitted."), status=409)
    open_papers = [p for p in papers if p.submitted_at is None]
    if not open_papers:
        raise CorridorError("nothing_open", _("Every candidate has already submitted."), status=409)
    for paper in open_papers:
        paper.extra_seconds += seconds
        paper.save(update_fields=["extra_seconds"])
    return _audit(
        sitting=action.sitting,
        candidate=candidate,
        kind=ActionKind.EXTRA_TIME,
        cause=action.cause,
        explanation=action.explanation,
        by=by,
        now=now,
        changed=open_papers,
        seconds=seconds,
        reason="extra_time",
    )


@transaction.atomic
def incident_record(
    *,
    sitting: Sitting,
    candidate: Candidate | None,
    category: str,
    note: str,
    by: Any,
    now: datetime | None = None,
) -> Incident:
    """Log an incident about one candidate (or the whole room), timestamped now; the consoles show it at once."""
    now = now or timezone.now()
    _check_invigilator(sitting=sitting, by=by)
    _check_candidate(sitting=sitting, candidate=candidate)
    if category not in IncidentCategory.values:
        raise CorridorError("category_missing", _("Choose the incident's category."))
    note = _checked_text(note, missing=_("Describe what happened: it goes into the sitting's record."))
    incident = Incident.objects.create(
        sitting=sitting, candidate=candidate, category=category, note=note, recorded_by=by, recorded_at=now
    )
    papers_changed_on_commit(sitting_id=sitting.pk, paper_ids=[], reason="incident")
    return incident


def invigilation_erase_user(*, person: Any) -> dict[str, int]:
    """Erasing a person keeps the sittings' incidents and audited actions (the exam board's record), which name a
    candidate only through their candidacy and an invigilator through their account, now the placeholder; the
    person's names are scrubbed from every note and explanation that mentions them."""
    scrubbed = 0
    for incident in Incident.objects.only("pk", "note"):
        if person.mentions(incident.note):
            incident.note = person.scrub(incident.note)
            incident.save(update_fields=["note"])
            scrubbed += 1
    for action in InvigilationAction.objects.only("pk", "explanation"):
        if person.mentions(action.explanation):
            action.explanation = person.scrub(action.explanation)
            action.save(update_fields=["explanation"])
            scrubbed += 1
    return {"invigilation_texts_scrubbed": scrubbed}
