"""Reads for internships: who may see which placement, the intern's page, the supervisor's dashboard, and what is
held about a person (export)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import SessionState
from internships.models import (
    Evaluation,
    EvaluationKind,
    HostCompany,
    Internship,
    InternTask,
    LiveCheckIn,
    LogFile,
    Placement,
    TaskStatus,
    WeekLog,
)
from lms.accounts.models import User
from lms.accounts.personal_data import ExportFile
from lms.accounts.roles import Role, user_has_role
from lms.errors import CorridorError


def is_coordinator(user: Any) -> bool:
    """Consortium coordinators are administrators."""
    return user_has_role(user, Role.ADMINISTRATOR)


def is_supervisor(user: Any) -> bool:
    return user_has_role(user, Role.SUPERVISOR)


def week_start_of(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def placements_with_everything() -> QuerySet[Placement]:
    return Placement.objects.select_related("internship__company", "intern", "supervisor", "coordinator")


def placements_of_intern(*, user: Any) -> QuerySet[Placement]:
    return placements_with_everything().filter(intern=user)


def placements_supervised(*, user: Any) -> QuerySet[Placement]:
    """A supervisor's own interns; a coordinator's: every placement."""
    if is_coordinator(user):
        return placements_with_everything()
    return placements_with_everything().filter(supervisor=user)


def placement_for_supervisor(*, user: Any, placement_id: int) -> Placement:
    """The placement, if `user` supervises it (or coordinates); otherwise a 404 that says so (CorridorError)."""
    placement = placements_supervised(user=user).filter(pk=placement_id).first()
    if placement is None:
        raise CorridorError("not_your_intern", _("No intern of yours has this placement."), status=404)
    return placement


def placement_for_intern(*, user: Any, placement_id: int) -> Placement:
    placement = placements_of_intern(user=user).filter(pk=placement_id).first()
    if placement is None:
        raise CorridorError("not_your_placement", _("This is not your placement."), status=404)
    return placement


def may_see_placement(*, user: Any, placement: Placement) -> bool:
    return user.pk in (placement.intern_id, placement.supervisor_id) or is_coordinator(user)


def log_file_for(*, user: Any, file_id: int) -> LogFile:
    """A logbook file, for its intern, their supervisor or a coordinator; 404 for anyone else."""
    file = LogFile.objects.select_related("week_log__placement").filter(pk=file_id).first()
    if file is None or not may_see_placement(user=user, placement=file.week_log.placement):
        raise CorridorError("no_such_file", _("No such file among your internship's."), status=404)
    return file


def task_for(*, user: Any, task_id: int) -> InternTask:
    """A task, for its intern or their supervisor (or a coordinator); 404 for anyone else."""
    task = InternTask.objects.select_related("placement").filter(pk=task_id).first()
    if task is None or not may_see_placement(user=user, placement=task.placement):
        raise CorridorError("no_such_task", _("No such task among your internship's."), status=404)
    return task


def companies() -> QuerySet[HostCompany]:
    return HostCompany.objects.all()


def internships() -> QuerySet[Internship]:
    return Internship.objects.select_related("company")


def trainees() -> QuerySet[User]:
    return User.objects.filter(groups__name=Role.TRAINEE.value, is_active=True).order_by("last_name", "first_name")


def is_overdue(task: InternTask, *, today: date) -> bool:
    return task.status != TaskStatus.DONE and task.deadline < today


@dataclass(frozen=True)
class DashboardRow:
    """One intern on the supervisor's dashboard."""

    placement: Placement
    hours_this_week: Decimal
    hours_last_week: Decimal
    target: int
    overdue_tasks: int
    last_log: WeekLog | None
    awaiting_approval: WeekLog | None  # the oldest submitted week not yet approved
    last_check_in: date | None
    next_check_in: LiveCheckIn | None = None  # the next live check-in not yet ended

    @property
    def behind(self) -> bool:
        """Behind on hours: last (finished) week's logged hours fell short of the target."""
        return self.hours_last_week < self.target


def dashboard_rows(*, user: Any, today: date, show: str = "", now: datetime | None = None) -> list[DashboardRow]:
    """One row per intern `user` supervises; `show` "behind" or "overdue" keeps only those."""
    this_week = week_start_of(today)
    last_week = this_week - timedelta(days=7)
    now = now or timezone.now()
    placements = list(
        placements_supervised(user=user)
        .prefetch_related("week_logs", "tasks", "check_ins", "live_check_ins__session")
        .order_by("intern__last_name", "pk")
    )
    rows = []
    for placement in placements:
        logs = {log.week_start: log for log in placement.week_logs.all()}
        pending = sorted((log for log in logs.values() if log.approved_at is None), key=lambda log: log.week_start)
        row = DashboardRow(
            placement=placement,
            hours_this_week=logs[this_week].total_hours if this_week in logs else Decimal(0),
            hours_last_week=logs[last_week].total_hours if last_week in logs else Decimal(0),
            target=placement.internship.target_hours_per_week,
            overdue_tasks=sum(1 for task in placement.tasks.all() if is_overdue(task, today=today)),
            last_log=max(logs.values(), key=lambda log: log.week_start, default=None),
            awaiting_approval=pending[0] if pending else None,
            last_check_in=max((entry.held_on for entry in placement.check_ins.all()), default=None),
            next_check_in=_next_live(placement.live_check_ins.all(), now=now),
        )
        if show == "behind" and not row.behind:
            continue
        if show == "overdue" and not row.overdue_tasks:
            continue
        rows.append(row)
    return rows


def _next_live(check_ins: Any, *, now: datetime) -> LiveCheckIn | None:
    coming = [live for live in check_ins if is_coming(live, now=now)]
    return min(coming, key=lambda live: live.session.starts_at, default=None)


def is_coming(live: LiveCheckIn, *, now: datetime) -> bool:
    """Still to join: live now, or scheduled and not past its end."""
    session = live.session
    return session.state == SessionState.LIVE or (session.state == SessionState.SCHEDULED and session.ends_at > now)


def live_check_ins_of(*, placement: Placement) -> list[LiveCheckIn]:
    """The placement's live check-ins, earliest first, with their sessions and notes."""
    return list(
        LiveCheckIn.objects.filter(placement=placement)
        .select_related("session", "notes")
        .order_by("session__starts_at", "pk")
    )


def upcoming_check_ins(*, placement: Placement, now: datetime) -> list[LiveCheckIn]:
    """The placement's live check-ins still to join (live now, or to come), earliest first."""
    return [live for live in live_check_ins_of(placement=placement) if is_coming(live, now=now)]


def awaiting_notes(live: LiveCheckIn) -> bool:
    """Held and ended, and its notes not written yet."""
    return live.session.state == SessionState.ENDED and live.session.live_since is not None and not _has_notes(live)


def _has_notes(live: LiveCheckIn) -> bool:
    try:
        return live.notes is not None
    except LiveCheckIn.notes.RelatedObjectDoesNotExist:
        return False


def live_check_in_for_supervisor(*, user: Any, live_id: int) -> LiveCheckIn:
    """A live check-in of an intern `user` supervises (or coordinates); a 404 for anyone else."""
    live = (
        LiveCheckIn.objects.select_related("placement", "session")
        .filter(pk=live_id, placement__in=placements_supervised(user=user))
        .first()
    )
    if live is None:
        raise CorridorError("not_your_intern", _("No intern of yours has this check-in."), status=404)
    return live


def missing_week_placements(*, week_start: date) -> QuerySet[Placement]:
    """Placements running during the week of `week_start` with no log for it and no reminder sent yet."""
    week_end = week_start + timedelta(days=6)
    return (
        placements_with_everything()
        .filter(internship__start__lte=week_end, internship__end__gte=week_start, intern__is_active=True)
        .exclude(week_logs__week_start=week_start)
        .exclude(reminders__week_start=week_start)
    )


def evaluations_of(*, placement: Placement) -> dict[str, Evaluation]:
    """The placement's evaluations by kind (midterm, final, self), those submitted."""
    return {evaluation.kind: evaluation for evaluation in placement.evaluations.all()}


@dataclass(frozen=True)
class Completion:
    """Where a placement stands for an internship certificate: hours approved, and the final evaluation."""

    approved_hours: Decimal
    weeks_awaiting_approval: int
    final_passed: bool | None  # None: no final evaluation yet

    @property
    def completed(self) -> bool:
        """Completed: a final evaluation that passed, and every logged week approved."""
        return bool(self.final_passed) and self.weeks_awaiting_approval == 0


def placement_completion(*, placement: Placement) -> Completion:
    logs = list(placement.week_logs.all())
    final = next((item for item in placement.evaluations.all() if item.kind == EvaluationKind.FINAL), None)
    return Completion(
        approved_hours=sum((log.total_hours for log in logs if log.approved_at is not None), Decimal(0)),
        weeks_awaiting_approval=sum(1 for log in logs if log.approved_at is None),
        final_passed=final.passed if final is not None else None,
    )


@dataclass(frozen=True)
class InternshipStanding:
    """A person's best placement for an internship certificate: a completed one if any (the latest to end), else
    the latest, with where it stands."""

    placement: Placement
    completion: Completion


def internship_standings(*, user_ids: list[int]) -> dict[int, InternshipStanding]:
    """Each of these people's standing as an intern (people never placed are absent). A fixed number of queries."""
    placements = (
        placements_with_everything()
        .filter(intern_id__in=user_ids)
        .prefetch_related("week_logs", "evaluations")
        .order_by("internship__end", "pk")
    )
    standings: dict[int, InternshipStanding] = {}
    for placement in placements:
        standing = InternshipStanding(placement=placement, completion=placement_completion(placement=placement))
        held = standings.get(placement.intern_id)
        # Later placements replace earlier ones, but never does an unfinished one replace a completed one.
        if held is None or standing.completion.completed or not held.completion.completed:
            standings[placement.intern_id] = standing
    return standings


def internship_week_number(*, placement: Placement, week_start: date) -> int:
    """Which week of the internship `week_start` is: 1 for the week it starts in."""
    return (week_start - week_start_of(placement.internship.start)).days // 7 + 1


# Personal data ---------------------------------------------------------------------------------------------------


def internship_records_of(*, user: Any) -> dict[str, Any]:
    """What internships hold about `user`: their placements as intern, logbooks, tasks and files; the placements
    they supervise (names only)."""
    placements = []
    for placement in placements_of_intern(user=user).prefetch_related("week_logs__files", "tasks"):
        placements.append(
            {
                "internship": placement.internship.title,
                "company": placement.internship.company.name,
                "start": placement.internship.start.isoformat(),
                "end": placement.internship.end.isoformat(),
                "supervisor": placement.supervisor.get_full_name() or placement.supervisor.email,
                "week_logs": [
                    {
                        "week_start": log.week_start.isoformat(),
                        "daily_hours": log.daily_hours,
                        "total_hours": str(log.total_hours),
                        "done": log.done,
                        "blockers": log.blockers,
                        "submitted_at": log.submitted_at.isoformat(),
                        "approved_at": log.approved_at.isoformat() if log.approved_at else None,
                        "files": [file.filename for file in log.files.all()],
                    }
                    for log in placement.week_logs.all()
                ],
                "evaluations": [
                    {
                        "kind": evaluation.kind,
                        "scores": evaluation.scores,
                        "comments": evaluation.comments,
                        "summary": evaluation.summary,
                        "passed": evaluation.passed,
                        "submitted_at": evaluation.submitted_at.isoformat(),
                    }
                    for evaluation in placement.evaluations.all()
                ],
                "check_ins": [
                    {"held_on": entry.held_on.isoformat(), "notes": entry.notes} for entry in placement.check_ins.all()
                ],
                "live_check_ins": [
                    {"starts_at": live.session.starts_at.isoformat(), "state": live.session.state}
                    for live in placement.live_check_ins.select_related("session")
                ],
                "tasks": [
                    {
                        "title": task.title,
                        "description": task.description,
                        "deadline": task.deadline.isoformat(),
                        "status": task.status,
                    }
                    for task in placement.tasks.all()
                ],
            }
        )
    supervised = [
        {"internship": placement.internship.title, "intern": placement.intern.get_full_name()}
        for placement in Placement.objects.filter(supervisor=user).select_related("internship", "intern")
    ]
    return {"placements": placements, "supervised": supervised}


def internship_files_of(*, user: Any) -> list[ExportFile]:
    return [
        ExportFile(key=file.storage_key, path=f"internships/{file.pk}-{file.filename}", region=file.storage_region)
        for file in LogFile.objects.filter(week_log__placement__intern=user)
    ]
