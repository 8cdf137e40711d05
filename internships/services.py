"""Writes for internships: companies, internships and placements (coordinators), supervisors' invitations and
sign-in links, the intern's logbook and files, tasks, approvals and reminders. Each checks who acts."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from classrooms.models import SessionState
from classrooms.services.sessions import session_schedule
from internships import selectors
from internships.models import (
    EVALUATION_CRITERIA,
    CheckIn,
    Evaluation,
    EvaluationKind,
    HostCompany,
    Internship,
    InternTask,
    LiveCheckIn,
    LogFile,
    LogReminder,
    Placement,
    TaskStatus,
    WeekLog,
)
from internships.xapi import xapi_internship_week_completed
from lms.accounts.models import User
from lms.accounts.personal_data import ErasedPerson
from lms.accounts.roles import Role, user_has_role
from lms.errors import CorridorError
from lms.files import checksummed_writer
from lms.regions import storage_for_region
from lms.timezones import SCHEDULING_TIME_ZONE

logger = logging.getLogger(__name__)

MAX_HOURS_PER_DAY = Decimal(24)


def _site_url() -> str:
    return str(settings.WAGTAILADMIN_BASE_URL).rstrip("/")


def _require_coordinator(by: Any) -> None:
    if not selectors.is_coordinator(by):
        raise CorridorError("not_coordinator", _("Only a coordinator can do this."), status=403)


# Coordinators ----------------------------------------------------------------------------------------------------


@transaction.atomic
def host_company_create(*, name: str, city: str, address: str, by: Any) -> HostCompany:
    _require_coordinator(by)
    return HostCompany.objects.create(name=name.strip(), city=city, address=address.strip())


@transaction.atomic
def internship_create(
    *,
    company: HostCompany,
    title: str,
    start: date,
    end: date,
    target_hours_per_week: int,
    by: Any,
    course: Any = None,
) -> Internship:
    _require_coordinator(by)
    if end < start:
        raise CorridorError("internship_dates", _("An internship must end after it starts."))
    if not 1 <= target_hours_per_week <= 60:
        raise CorridorError("internship_hours", _("The target must be between 1 and 60 hours a week."))
    return Internship.objects.create(
        company=company,
        title=title.strip(),
        start=start,
        end=end,
        target_hours_per_week=target_hours_per_week,
        course=course,
    )


class SupervisorSignInTokens(PasswordResetTokenGenerator):
    """Sign-in links for company supervisors, who have no password. A link works once (it is bound to the person's
    last sign-in, which it changes) and for PASSWORD_RESET_TIMEOUT seconds, like Django's password-reset links."""

    key_salt = "internships.supervisor-sign-in"


sign_in_tokens = SupervisorSignInTokens()


def supervisor_sign_in_path(*, user: User) -> str:
    """The path of a one-use sign-in link for `user` (in their language)."""
    with translation.override(user.preferred_language):
        return reverse(
            "internships:sign-in-link",
            kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": sign_in_tokens.make_token(user)},
        )


def _email_sign_in_link(*, user: User, template: str, context: dict[str, Any]) -> None:
    with translation.override(user.preferred_language):
        context = {**context, "recipient": user, "link": _site_url() + supervisor_sign_in_path(user=user)}
        subject = " ".join(render_to_string(f"internships/email/{template}_subject.txt", context).split())
        body = render_to_string(f"internships/email/{template}.txt", context)
    message = EmailMessage(subject=subject, body=body, to=[user.email])
    transaction.on_commit(lambda: message.send(fail_silently=False))


@transaction.atomic
def supervisor_invite(*, email: str, first_name: str, last_name: str, company: HostCompany, by: Any) -> User:
    """The supervisor with this email (made if new: no password, they sign in with emailed links), in the
    supervisors' group, emailed an invitation with a sign-in link."""
    _require_coordinator(by)
    email = User.objects.normalize_email(email.strip()).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(email=email, first_name=first_name.strip(), last_name=last_name.strip(), home_region=company.city)
        user.set_unusable_password()
        user.save()
    elif not user.is_active:
        raise CorridorError("supervisor_inactive", _("That person's account is closed."))
    user.groups.add(Group.objects.get(name=Role.SUPERVISOR.value))
    _email_sign_in_link(user=user, template="supervisor_invite", context={"company": company, "by": by})
    return user


@transaction.atomic
def placement_create(
    *,
    internship: Internship,
    intern: User,
    supervisor_email: str,
    supervisor_first_name: str,
    supervisor_last_name: str,
    by: Any,
) -> Placement:
    """Place a trainee on an internship with a company supervisor (invited by email); `by`, the coordinator."""
    _require_coordinator(by)
    if not user_has_role(intern, Role.TRAINEE):
        raise CorridorError("intern_not_trainee", _("Only a trainee can be placed as an intern."))
    if Placement.objects.filter(internship=internship, intern=intern).exists():
        raise CorridorError("already_placed", _("This trainee is already placed on this internship."))
    supervisor = supervisor_invite(
        email=supervisor_email,
        first_name=supervisor_first_name,
        last_name=supervisor_last_name,
        company=internship.company,
        by=by,
    )
    if supervisor.pk == intern.pk:
        raise CorridorError("supervisor_is_intern", _("An intern cannot supervise themselves."))
    return Placement.objects.create(internship=internship, intern=intern, supervisor=supervisor, coordinator=by)


@transaction.atomic
def supervisor_sign_in_link_send(*, email: str) -> bool:
    """Email a fresh sign-in link to the supervisor with this address; False (and nothing sent) for anyone else.
    The page says the same either way, so it does not tell who is a supervisor."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not selectors.is_supervisor(user):
        return False
    _email_sign_in_link(user=user, template="supervisor_sign_in", context={})
    return True


def supervisor_from_link(*, uidb64: str, token: str) -> User | None:
    """The supervisor a sign-in link was made for, if it is still valid (unused, not expired); else None."""
    from django.utils.http import urlsafe_base64_decode

    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not selectors.is_supervisor(user) or not sign_in_tokens.check_token(user, token):
        return None
    return user


# The intern's logbook --------------------------------------------------------------------------------------------


def _require_intern(placement: Placement, by: Any) -> None:
    if placement.intern_id != by.pk:
        raise CorridorError("not_your_placement", _("This is not your placement."), status=403)


def _hours(values: list[Any]) -> list[Decimal]:
    if len(values) != 7:
        raise CorridorError("log_hours", _("Give the hours of each of the seven days."))
    hours = []
    for value in values:
        try:
            number = Decimal(str(value or 0)).quantize(Decimal("0.1"))
        except InvalidOperation:
            raise CorridorError("log_hours", _("Hours must be numbers.")) from None
        if not Decimal(0) <= number <= MAX_HOURS_PER_DAY:
            raise CorridorError("log_hours", _("Each day's hours must be between 0 and 24."))
        hours.append(number)
    return hours


@transaction.atomic
def week_log_submit(
    *,
    placement: Placement,
    by: Any,
    week_start: date,
    daily_hours: list[Any],
    done: str,
    blockers: str,
    now: datetime | None = None,
) -> WeekLog:
    """Log (or correct) the week starting `week_start` (a Monday); an approved week can no longer change."""
    _require_intern(placement, by)
    now = now or timezone.now()
    if week_start.weekday() != 0:
        raise CorridorError("log_week", _("A week starts on a Monday."))
    internship = placement.internship
    if week_start + timedelta(days=6) < internship.start or week_start > internship.end:
        raise CorridorError("log_week", _("This week is outside the internship."))
    if week_start > selectors.week_start_of(timezone.localdate(now)):
        raise CorridorError("log_week", _("You cannot log a week that has not started."))
    hours = _hours(daily_hours)
    log = WeekLog.objects.select_for_update().filter(placement=placement, week_start=week_start).first()
    if log is not None and log.approved_at is not None:
        raise CorridorError("log_approved", _("This week's log was approved and can no longer change."), status=409)
    if log is None:
        log = WeekLog(placement=placement, week_start=week_start)
    log.daily_hours = [float(value) for value in hours]
    log.total_hours = sum(hours, Decimal(0))
    log.done = done.strip()
    log.blockers = blockers.strip()
    log.submitted_at = now
    log.save()
    return log


MAX_FILE_BYTES = 10 * 1024 * 1024


@transaction.atomic
def log_file_attach(*, week_log: WeekLog, by: Any, upload: UploadedFile) -> LogFile:
    """Store a file with a week's log, in the intern's home region, through the checksummed writer."""
    _require_intern(week_log.placement, by)
    if week_log.approved_at is not None:
        raise CorridorError("log_approved", _("This week's log was approved and can no longer change."), status=409)
    size = upload.size or 0
    if not 0 < size <= MAX_FILE_BYTES:
        raise CorridorError("file_size", _("A file must hold something and be at most 10 MB."))
    content = upload.read()
    filename = (upload.name or "file").rsplit("/", 1)[-1][:200]
    region = week_log.placement.intern.home_region
    key = f"internships/{week_log.placement_id}/{week_log.week_start.isoformat()}/{uuid.uuid4().hex}"
    sha256 = checksummed_writer(storage_for_region(region)).write(
        key=key, content=content, content_type=upload.content_type or "application/octet-stream"
    )
    return LogFile.objects.create(
        week_log=week_log,
        filename=filename,
        content_type=upload.content_type or "application/octet-stream",
        size=len(content),
        sha256=sha256,
        storage_key=key,
        storage_region=region,
    )


# Tasks and approvals ---------------------------------------------------------------------------------------------


def _require_supervisor_of(placement: Placement, by: Any) -> None:
    if placement.supervisor_id != by.pk and not selectors.is_coordinator(by):
        raise CorridorError("not_your_intern", _("This intern is not one of yours."), status=403)


@transaction.atomic
def intern_task_create(*, placement: Placement, by: Any, title: str, description: str, deadline: date) -> InternTask:
    _require_supervisor_of(placement, by)
    if not title.strip():
        raise CorridorError("task_title", _("A task needs a title."))
    return InternTask.objects.create(
        placement=placement, title=title.strip(), description=description.strip(), deadline=deadline, created_by=by
    )


@transaction.atomic
def intern_task_status_set(*, task: InternTask, by: Any, status: str, now: datetime | None = None) -> InternTask:
    """The intern (or their supervisor) moves a task to `status`."""
    if by.pk != task.placement.intern_id:
        _require_supervisor_of(task.placement, by)
    if status not in TaskStatus.values:
        raise CorridorError("task_status", _("Unknown task status."))
    task.status = status
    task.completed_at = (now or timezone.now()) if status == TaskStatus.DONE else None
    task.save(update_fields=["status", "completed_at"])
    return task


@transaction.atomic
def week_logs_approve(*, log_ids: list[int], by: Any, now: datetime | None = None) -> int:
    """Approve these weeks' logs, all or none: every one must be a log of an intern `by` supervises. Returns how
    many were approved now (one approved already stays as it was)."""
    if not log_ids:
        raise CorridorError("approve_none", _("Choose at least one week to approve."))
    logs = list(
        WeekLog.objects.select_for_update(of=("self",))
        .select_related("placement__internship__company")
        .filter(pk__in=set(log_ids))
    )
    if len(logs) != len(set(log_ids)):
        raise CorridorError("approve_unknown", _("One of those weeks is not an intern's of yours."), status=404)
    for log in logs:
        if log.placement.supervisor_id != by.pk and not selectors.is_coordinator(by):
            raise CorridorError("approve_unknown", _("One of those weeks is not an intern's of yours."), status=404)
    now = now or timezone.now()
    # In week order, so the learning record store hears of week 1 before week 2.
    pending = sorted(
        (log for log in logs if log.approved_at is None), key=lambda log: (log.placement_id, log.week_start)
    )
    for log in pending:
        log.approved_at, log.approved_by = now, by
        log.save(update_fields=["approved_at", "approved_by"])
        xapi_internship_week_completed(week_log=log)
    return len(pending)


@transaction.atomic
def check_in_record(*, placement: Placement, by: Any, held_on: date, notes: str, today: date | None = None) -> CheckIn:
    """The supervisor records a one-to-one check-in they held with their intern (not one still to come)."""
    if placement.supervisor_id != by.pk:
        raise CorridorError("not_your_intern", _("This intern is not one of yours."), status=403)
    if held_on > (today or timezone.localdate()):
        raise CorridorError("check_in_date", _("Record a check-in once it has taken place."))
    return CheckIn.objects.create(placement=placement, held_on=held_on, notes=notes.strip(), recorded_by=by)


# Live check-ins: a one-to-one as a live session without a room ---------------------------------------------------

CHECK_IN_MINUTES_MIN, CHECK_IN_MINUTES_MAX = 15, 180


@transaction.atomic
def check_in_schedule(
    *, placement: Placement, by: Any, starts_at: datetime, minutes: int, now: datetime | None = None
) -> LiveCheckIn:
    """The supervisor schedules a one-to-one check-in with their intern: a live session of the internship's course
    with no room, the supervisor its instructor, one-to-one with the intern (so nobody else enrolled in the course
    may join it), through classrooms' one scheduling path (which refuses a supervisor already busy then). Both are
    reminded of it as of any session, and join it on its live page."""
    if placement.supervisor_id != by.pk:
        raise CorridorError(
            "not_your_intern", _("Only the intern's supervisor schedules a check-in with them."), status=403
        )
    now = now or timezone.now()
    if not CHECK_IN_MINUTES_MIN <= minutes <= CHECK_IN_MINUTES_MAX:
        raise CorridorError("check_in_length", _("A check-in lasts between 15 minutes and 3 hours."))
    if starts_at <= now:
        raise CorridorError("check_in_past", _("Schedule a check-in for a time still to come."))
    internship = placement.internship
    day = timezone.localtime(starts_at, SCHEDULING_TIME_ZONE).date()
    if not internship.start <= day <= internship.end:
        raise CorridorError("check_in_outside", _("Schedule the check-in while the internship runs."))
    if internship.course is None:
        raise CorridorError(
            "check_in_no_course",
            _("This internship has no course for live check-ins yet: ask its coordinator to choose one."),
            status=409,
        )
    intern = placement.intern
    session = session_schedule(
        title=_("Check-in: %(intern)s with %(supervisor)s")
        % {"intern": intern.get_full_name() or intern.email, "supervisor": by.get_full_name() or by.email},
        course=internship.course,
        instructor=by,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        rooms=[],
        online_seats=1,
        by=by,
        one_to_one_with=intern,
    )
    return LiveCheckIn.objects.create(placement=placement, session=session, scheduled_by=by)


@transaction.atomic
def live_check_in_notes(*, live: LiveCheckIn, by: Any, notes: str) -> CheckIn:
    """The supervisor writes the notes of a live check-in once it has ended: a check-in held on the day it went live
    (so the dashboard's "last check-in" is that day). One set of notes per live check-in."""
    locked = LiveCheckIn.objects.select_for_update().select_related("placement", "session").get(pk=live.pk)
    if locked.placement.supervisor_id != by.pk:
        raise CorridorError("not_your_intern", _("This intern is not one of yours."), status=403)
    session = locked.session
    if session.state != SessionState.ENDED or session.live_since is None:
        raise CorridorError(
            "check_in_not_held", _("Write the notes once the check-in has been held and ended."), status=409
        )
    if CheckIn.objects.filter(live=locked).exists():
        raise CorridorError("check_in_notes_done", _("This check-in's notes are already written."), status=409)
    return CheckIn.objects.create(
        placement=locked.placement,
        live=locked,
        held_on=timezone.localtime(session.live_since, SCHEDULING_TIME_ZONE).date(),
        notes=notes.strip(),
        recorded_by=by,
    )


# Evaluations ----------------------------------------------------------------------------------------------------


@transaction.atomic
def evaluation_submit(
    *,
    placement: Placement,
    by: Any,
    kind: str,
    scores: dict[str, int],
    comments: dict[str, str],
    summary: str,
    passed: bool | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """The supervisor's mid-term or final evaluation, or the intern's self-evaluation: every criterion scored 1-5;
    the final one passes or fails the internship. Each kind is submitted once."""
    if kind == EvaluationKind.SELF:
        _require_intern(placement, by)
    elif kind in (EvaluationKind.MIDTERM, EvaluationKind.FINAL):
        if placement.supervisor_id != by.pk:
            raise CorridorError("not_your_intern", _("Only the intern's supervisor evaluates them."), status=403)
    else:
        raise CorridorError("evaluation_kind", _("Unknown kind of evaluation."))
    keys = [key for key, _label in EVALUATION_CRITERIA]
    if set(scores) != set(keys) or any(not isinstance(value, int) or not 1 <= value <= 5 for value in scores.values()):
        raise CorridorError("evaluation_scores", _("Score every criterion from 1 to 5."))
    if kind == EvaluationKind.FINAL and passed is None:
        raise CorridorError("evaluation_verdict", _("Say whether the intern passed the internship."))
    if Evaluation.objects.select_for_update().filter(placement=placement, kind=kind).exists():
        raise CorridorError("evaluation_done", _("This evaluation was already submitted."), status=409)
    return Evaluation.objects.create(
        placement=placement,
        kind=kind,
        scores={key: scores[key] for key in keys},
        comments={key: comments.get(key, "").strip() for key in keys},
        summary=summary.strip(),
        passed=passed if kind == EvaluationKind.FINAL else None,
        author=by,
        submitted_at=now or timezone.now(),
    )


# Reminders -------------------------------------------------------------------------------------------------------


def log_reminders_send_due(*, now: datetime) -> int:
    """Email each intern whose last (finished) week has no log, once per week; returns how many were sent."""
    last_week = selectors.week_start_of(timezone.localdate(now)) - timedelta(days=7)
    sent = 0
    for placement in selectors.missing_week_placements(week_start=last_week):
        with transaction.atomic():
            _, created = LogReminder.objects.get_or_create(placement=placement, week_start=last_week)
            if not created:
                continue
            intern = placement.intern
            with translation.override(intern.preferred_language):
                context = {
                    "recipient": intern,
                    "placement": placement,
                    "week_start": last_week,
                    "link": _site_url() + reverse("internships:mine"),
                }
                subject = " ".join(render_to_string("internships/email/log_reminder_subject.txt", context).split())
                body = render_to_string("internships/email/log_reminder.txt", context)
            message = EmailMessage(subject=subject, body=body, to=[intern.email])
            transaction.on_commit(lambda message=message: message.send(fail_silently=False))  # type: ignore[misc]
            sent += 1
    return sent


# Personal data ---------------------------------------------------------------------------------------------------


@transaction.atomic
def internships_erase_user(*, person: ErasedPerson) -> dict[str, int]:
    """Delete the person's logbooks (and their stored files) and tasks as an intern; their placements stay as a
    record that the internship took place, with their name gone with their account. Placements they supervise
    keep their rows (the supervisor is the erased placeholder)."""
    user = person.user
    files = list(LogFile.objects.filter(week_log__placement__intern=user))
    for file in files:
        storage, key = storage_for_region(file.storage_region), file.storage_key
        # The bytes go once the rows are gone for good (a rolled-back erasure keeps both).
        transaction.on_commit(lambda key=key, storage=storage: storage.delete(key))  # type: ignore[misc]
    logs = WeekLog.objects.filter(placement__intern=user)
    tasks = InternTask.objects.filter(placement__intern=user)
    # Their own self-evaluations go; the supervisor's evaluations of them stay with the placement (the record on
    # which an internship certificate rests), their comments scrubbed of the person's name.
    own = Evaluation.objects.filter(placement__intern=user, kind=EvaluationKind.SELF)
    counts = {
        "log_files": len(files),
        "week_logs": logs.count(),
        "tasks": tasks.count(),
        "self_evaluations": own.count(),
    }
    own.delete()
    for check_in in CheckIn.objects.filter(placement__intern=user):
        check_in.notes = person.scrub(check_in.notes)
        check_in.save(update_fields=["notes"])
    for evaluation in Evaluation.objects.filter(placement__intern=user):
        evaluation.comments = person.scrub(evaluation.comments)
        evaluation.summary = person.scrub(evaluation.summary)
        evaluation.save(update_fields=["comments", "summary"])
    LogFile.objects.filter(pk__in=[file.pk for file in files]).delete()
    logs.delete()
    tasks.delete()
    LogReminder.objects.filter(placement__intern=user).delete()
    return counts
