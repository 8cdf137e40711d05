"""Reads of the invigilator's console: a row per candidate (seat, check-in, start, time left on the server's clock,
pause, submission, whether their exam page is connected, when their answers last reached the server, incidents),
the counts the console filters by, the sitting's log (incidents and audited actions), and its record for the exam
board (CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exams import clock
from exams.models import Candidate, Incident, InvigilationAction, Paper, Sitting, SubmittedHow

# The console's words for a row's state (the page's script has the same, from `console_strings`).
STATE_LABELS = {
    "registered": gettext_lazy("Not checked in"),
    "checked_in": gettext_lazy("Checked in"),
    "started": gettext_lazy("Working"),
    "paused": gettext_lazy("Paused"),
    "disconnected": gettext_lazy("Disconnected"),
    "submitted": gettext_lazy("Submitted"),
}


def clock_text(seconds: int) -> str:
    """Seconds as h:mm:ss (or m:ss under an hour), as the console's countdown shows them."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def console_strings() -> dict[str, Any]:
    """The console script's words, in the page's language."""
    return {
        "states": {key: str(label) for key, label in STATE_LABELS.items()},
        "how": {key: str(label) for key, label in SubmittedHow.choices},
        "seat": _("Seat {seat}"),
        "whole_room": _("The whole room"),
        "act": _("Act on seat {seat}"),
        "incident": _("Incident at seat {seat}"),
        "extra": _("+{minutes} min"),
        "live": _("Live: updates appear at once."),
        "reconnecting": _("Connection lost: reconnecting…"),
        "refused": _("Live updates are not available to you: reload the page."),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _name(user: Any) -> str:
    name = user.get_full_name() or user.email
    return f"{name} · {user.name_zh}" if getattr(user, "name_zh", "") else name


@dataclass(frozen=True)
class ConsoleRow:
    candidate_id: int
    seat: int
    number: str
    name: str
    checked_in_at: datetime | None
    has_paper: bool
    started_at: datetime | None
    seconds_left: int
    extra_seconds: int
    paused_seconds: int
    paused: bool
    submitted_at: datetime | None
    submitted_how: str
    online: bool
    last_saved_at: datetime | None
    incidents: int

    @property
    def state(self) -> str:
        """One word for the row's filter: registered, checked_in, started, paused, disconnected or submitted."""
        if self.submitted_at is not None:
            return "submitted"
        if self.started_at is not None:
            if self.paused:
                return "paused"
            return "started" if self.online else "disconnected"
        return "checked_in" if self.checked_in_at is not None else "registered"

    @property
    def state_label(self) -> str:
        label = str(STATE_LABELS[self.state])
        if self.state == "submitted" and self.submitted_how:
            label = f"{label} · {SubmittedHow(self.submitted_how).label}"
        return label

    @property
    def time_left(self) -> str:
        return clock_text(self.seconds_left)

    @property
    def running(self) -> bool:
        """The candidate's clock is running now (started, neither paused nor submitted)."""
        return self.started_at is not None and self.submitted_at is None and not self.paused

    def as_json(self) -> dict[str, Any]:
        return {
            "candidate_id": self.candidate_id,
            "seat": self.seat,
            "number": self.number,
            "name": self.name,
            "state": self.state,
            "checked_in_at": _iso(self.checked_in_at),
            "has_paper": self.has_paper,
            "started_at": _iso(self.started_at),
            "seconds_left": self.seconds_left,
            "extra_seconds": self.extra_seconds,
            "paused": self.paused,
            "submitted_at": _iso(self.submitted_at),
            "submitted_how": self.submitted_how,
            "online": self.online,
            "last_saved_at": _iso(self.last_saved_at),
            "incidents": self.incidents,
            "running": self.running,
        }


def console_rows(*, sitting: Sitting, now: datetime | None = None) -> list[ConsoleRow]:
    """Every candidate of the sitting, by seat, as the console shows them now."""
    now = now or timezone.now()
    duration = sitting.exam.duration_minutes
    incidents = dict(
        Incident.objects.filter(sitting=sitting, candidate__isnull=False)
        .values("candidate")
        .annotate(n=Count("id"))
        .values_list("candidate", "n")
    )
    rows = []
    candidates = Candidate.objects.filter(sitting=sitting).select_related("user", "paper").order_by("seat_number")
    for candidate in candidates:
        paper: Paper | None = getattr(candidate, "paper", None)
        rows.append(
            ConsoleRow(
                candidate_id=candidate.pk,
                seat=candidate.seat_number,
                number=candidate.number,
                name=_name(candidate.user),
                checked_in_at=candidate.checked_in_at,
                has_paper=paper is not None,
                started_at=paper.started_at if paper else None,
                seconds_left=(
                    int(clock.seconds_left(paper, duration_minutes=duration, now=now)) if paper else duration * 60
                ),
                extra_seconds=paper.extra_seconds if paper else 0,
                paused_seconds=int(clock.paused_for(paper, now=now).total_seconds()) if paper else 0,
                paused=bool(paper and paper.paused_at is not None and paper.submitted_at is None),
                submitted_at=paper.submitted_at if paper else None,
                submitted_how=paper.submitted_how if paper else "",
                online=bool(paper and paper.online),
                last_saved_at=paper.last_saved_at if paper else None,
                incidents=incidents.get(candidate.pk, 0),
            )
        )
    return rows


def console_counts(rows: list[ConsoleRow]) -> dict[str, int]:
    """How many candidates are registered, checked in, started (submitted or not), paused, disconnected (started,
    not submitted, their exam page not connected) and submitted: the console's filters."""
    return {
        "all": len(rows),
        "checked_in": sum(1 for r in rows if r.checked_in_at is not None),
        "started": sum(1 for r in rows if r.started_at is not None),
        "paused": sum(1 for r in rows if r.state == "paused"),
        "disconnected": sum(1 for r in rows if r.state == "disconnected"),
        "submitted": sum(1 for r in rows if r.submitted_at is not None),
    }


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    what: str  # "incident" or "action"
    kind: str  # the incident's category or the action's kind (its value)
    label: str  # the same, for people
    cause: str  # the action's cause, for people ("" for incidents)
    seconds: int
    candidate: Candidate | None
    text: str
    by: Any
    papers_changed: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "what": self.what,
            "kind": self.kind,
            "label": str(self.label),
            "cause": str(self.cause),
            "seconds": self.seconds,
            "seat": self.candidate.seat_number if self.candidate else None,
            "candidate": _name(self.candidate.user) if self.candidate else None,
            "text": self.text,
            "by": str(self.by),
        }


def sitting_log(*, sitting: Sitting) -> list[LogEntry]:
    """The sitting's incidents and audited actions, oldest first."""
    entries = [
        LogEntry(
            at=i.recorded_at,
            what="incident",
            kind=i.category,
            label=i.get_category_display(),
            cause="",
            seconds=0,
            candidate=i.candidate,
            text=i.note,
            by=i.recorded_by,
            papers_changed=None,
        )
        for i in Incident.objects.filter(sitting=sitting).select_related("candidate__user", "recorded_by")
    ]
    entries += [
        LogEntry(
            at=a.at,
            what="action",
            kind=a.kind,
            label=a.get_kind_display(),
            cause=a.get_cause_display(),
            seconds=a.seconds,
            candidate=a.candidate,
            text=a.explanation,
            by=a.by,
            papers_changed=a.papers_changed,
        )
        for a in InvigilationAction.objects.filter(sitting=sitting).select_related("candidate__user", "by")
    ]
    return sorted(entries, key=lambda e: e.at)


def console_state(*, sitting: Sitting, now: datetime | None = None) -> dict[str, Any]:
    """What the console's socket sends: the rows, their counts and the log."""
    rows = console_rows(sitting=sitting, now=now)
    return {
        "rows": [r.as_json() for r in rows],
        "counts": console_counts(rows),
        "log": [e.as_json() for e in sitting_log(sitting=sitting)],
    }


def _stamp(moment: datetime | None, zone: Any) -> str:
    return timezone.localtime(moment, zone).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def _cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: no formula injection from a note like "=HYPERLINK(...)"."""
    text = str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def _minutes(seconds: int) -> str:
    return f"{seconds / 60:.1f}" if seconds else ""


@dataclass(frozen=True)
class SittingRecord:
    """The sitting's record for the exam board, as text cells: the sitting, a line per candidate, a line per
    incident or audited action, each table with its header."""

    head: list[list[str]]
    candidate_header: list[str]
    candidates: list[list[str]]
    log_header: list[str]
    log: list[list[str]]


def sitting_record(*, sitting: Sitting, zone: Any, now: datetime | None = None) -> SittingRecord:
    """The sitting's record, in the reader's language: the sitting, then one line per candidate (seat, check-in,
    start, submission and how, extra time, time paused, when their answers last reached the server, incidents), then
    every incident and audited action with its cause, explanation, who and when. Times on the exam room's city
    clock."""
    now = now or timezone.now()
    how = dict(SubmittedHow.choices)
    return SittingRecord(
        head=[
            [_("Sitting"), sitting.exam.code, sitting.exam.title, sitting.room.name],
            [_("Starts"), _stamp(sitting.starts_at, zone), _("Ends"), _stamp(sitting.ends_at, zone)],
            [_("Record made"), _stamp(now, zone), _("Time zone"), str(zone)],
        ],
        candidate_header=[
            _("Seat"),
            _("Candidate number"),
            _("Name"),
            _("Checked in"),
            _("Started"),
            _("Submitted"),
            _("Submitted how"),
            _("Extra time (min)"),
            _("Time paused (min)"),
            _("Answers last reached the server"),
            _("Incidents"),
        ],
        candidates=[
            [
                str(row.seat),
                row.number,
                row.name,
                _stamp(row.checked_in_at, zone),
                _stamp(row.started_at, zone),
                _stamp(row.submitted_at, zone),
                str(how.get(row.submitted_how, "")),
                _minutes(row.extra_seconds),
                _minutes(row.paused_seconds),
                _stamp(row.last_saved_at, zone),
                str(row.incidents),
            ]
            for row in console_rows(sitting=sitting, now=now)
        ],
        log_header=[
            _("Time"),
            _("Record"),
            _("Kind"),
            _("Cause"),
            _("Extra time (min)"),
            _("Seat"),
            _("Candidate"),
            _("Text"),
            _("By"),
        ],
        log=[
            [
                _stamp(entry.at, zone),
                _("Incident") if entry.what == "incident" else _("Action"),
                str(entry.label),
                str(entry.cause),
                _minutes(entry.seconds),
                str(entry.candidate.seat_number) if entry.candidate else _("Whole room"),
                _name(entry.candidate.user) if entry.candidate else "",
                entry.text,
                entry.by.email,
            ]
            for entry in sitting_log(sitting=sitting)
        ],
    )


def sitting_record_csv(record: SittingRecord) -> str:
    """The record as one CSV: the sitting, a blank line, the candidates, a blank line, the log."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in [
        *record.head,
        [],
        record.candidate_header,
        *record.candidates,
        [],
        record.log_header,
        *record.log,
    ]:
        writer.writerow([_cell(value) for value in line])
    return out.getvalue()


def invigilation_records_of(*, user: Any) -> dict[str, Any]:
    """What the invigilator's console holds about a person (their data export): the incidents logged and the actions
    taken about them as a candidate, and those they recorded or took as an invigilator."""

    def incident(i: Incident) -> dict[str, Any]:
        return {
            "sitting": i.sitting_id,
            "candidate_number": i.candidate.number if i.candidate else None,
            "category": i.category,
            "note": i.note,
            "recorded_at": i.recorded_at.isoformat(),
        }

    def action(a: InvigilationAction) -> dict[str, Any]:
        return {
            "sitting": a.sitting_id,
            "candidate_number": a.candidate.number if a.candidate else None,
            "kind": a.kind,
            "seconds": a.seconds,
            "cause": a.cause,
            "explanation": a.explanation,
            "at": a.at.isoformat(),
        }

    incidents = Incident.objects.select_related("candidate").order_by("recorded_at", "pk")
    actions = InvigilationAction.objects.select_related("candidate").order_by("at", "pk")
    return {
        "incidents_about_them": [incident(i) for i in incidents.filter(candidate__user=user)],
        "actions_about_them": [action(a) for a in actions.filter(candidate__user=user)],
        "incidents_recorded": [incident(i) for i in incidents.filter(recorded_by=user)],
        "actions_taken": [action(a) for a in actions.filter(by=user)],
    }
