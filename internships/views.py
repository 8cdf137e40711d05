"""Internship pages. Interns: their placement, weekly log, files and tasks. Supervisors: the dashboard of their own
interns, each intern's page (tasks, approvals). Coordinators (administrators): companies, internships, placements.
Supervisors sign in with emailed links.

Every view checks who asks before reading anything (a placement that is not the asker's is a 404); services check
again before writing."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import user_has_device

from internships import selectors, services
from internships.forms import (
    ApproveForm,
    CheckInForm,
    CheckInNotesForm,
    CheckInScheduleForm,
    EvaluationForm,
    HostCompanyForm,
    InternshipForm,
    LogFileForm,
    PlacementForm,
    SignInLinkForm,
    TaskForm,
    TaskStatusForm,
    WeekLogForm,
)
from internships.models import EvaluationKind, LogFile, Placement, WeekLog
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.accounts.views import PENDING_SECONDS, PENDING_SIGN_IN
from lms.errors import CorridorError
from lms.files import SignedFileLinks, StoredFile, stored_file_response
from lms.forms import form_checked
from lms.throttle import throttled_per_address
from lms.timezones import city_time, city_time_zone

LOG_FILE_LINKS = SignedFileLinks(
    salt="internships.log-file", view="internships:signed-file", max_age_setting="INTERNSHIP_FILE_URL_MAX_AGE"
)


def _require_coordinator(request: HttpRequest) -> None:
    if not selectors.is_coordinator(request.user):
        raise PermissionDenied(_("Only coordinators manage internships."))


def _require_supervisor(request: HttpRequest) -> None:
    if not (selectors.is_supervisor(request.user) or selectors.is_coordinator(request.user)):
        raise PermissionDenied(_("Only company supervisors see this page."))


# Interns ---------------------------------------------------------------------------------------------------------


@require_safe
@login_required
def mine(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The intern's page: each placement with this week's log form, past weeks, files and tasks."""
    today = timezone.localdate()
    placements = list(
        selectors.placements_of_intern(user=request.user).prefetch_related("week_logs__files", "tasks", "evaluations")
    )
    this_week = selectors.week_start_of(today)
    cards = []
    for placement in placements:
        logs = list(placement.week_logs.all())
        current = next((log for log in logs if log.week_start == this_week), None)
        initial: dict[str, Any] = {"week_start": this_week}
        if current is not None:
            initial |= {"done": current.done, "blockers": current.blockers}
            initial |= {f"hours_{index}": value for index, value in enumerate(current.daily_hours)}
        tasks = list(placement.tasks.all())
        cards.append(
            {
                "placement": placement,
                "check_ins": _check_in_rows(
                    selectors.upcoming_check_ins(placement=placement, now=timezone.now()), reader=request.user
                ),
                "form": WeekLogForm(initial=initial, prefix=f"p{placement.pk}"),
                "logs": logs,
                "tasks": [(task, selectors.is_overdue(task, today=today)) for task in tasks],
                "evaluations": selectors.evaluations_of(placement=placement),
            }
        )
    return render(
        request, "internships/mine.html", {"cards": cards, "file_form": LogFileForm(), "status_form": TaskStatusForm()}
    )


@require_POST
@login_required
def log_week(request: AuthenticatedHttpRequest, placement_id: int) -> HttpResponse:
    placement = selectors.placement_for_intern(user=request.user, placement_id=placement_id)
    form = form_checked(WeekLogForm(request.POST, prefix=f"p{placement.pk}"), code="invalid_log")
    log = services.week_log_submit(
        placement=placement,
        by=request.user,
        week_start=form.cleaned_data["week_start"],
        daily_hours=form.daily_hours(),
        done=form.cleaned_data["done"],
        blockers=form.cleaned_data["blockers"],
    )
    messages.success(
        request,
        _("Week of %(week)s logged: %(hours)s hours.") % {"week": log.week_start.isoformat(), "hours": log.total_hours},
    )
    return redirect("internships:mine")


@require_POST
@login_required
def attach_file(request: AuthenticatedHttpRequest, log_id: int) -> HttpResponse:
    log = WeekLog.objects.select_related("placement__intern").filter(pk=log_id, placement__intern=request.user).first()
    if log is None:
        raise CorridorError("no_such_week", _("No such week in your logbook."), status=404)
    form = form_checked(LogFileForm(request.POST, request.FILES), code="invalid_file")
    file = services.log_file_attach(week_log=log, by=request.user, upload=form.cleaned_data["file"])
    messages.success(request, _("%(name)s attached.") % {"name": file.filename})
    return redirect("internships:mine")


@require_POST
@login_required
def task_status(request: AuthenticatedHttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for(user=request.user, task_id=task_id)
    form = form_checked(TaskStatusForm(request.POST), code="invalid_status")
    services.intern_task_status_set(task=task, by=request.user, status=form.cleaned_data["status"])
    messages.success(request, _("Task “%(title)s” updated.") % {"title": task.title})
    if request.user.pk == task.placement.intern_id:
        return redirect("internships:mine")
    return redirect("internships:placement", placement_id=task.placement_id)


def _log_file(file: LogFile) -> StoredFile:
    return StoredFile(
        key=file.storage_key,
        content_type=file.content_type,
        filename=file.filename,
        attachment=True,
        region=file.storage_region,
    )


@require_safe
@login_required
def log_file(request: AuthenticatedHttpRequest, file_id: int) -> HttpResponse:
    """On to a short-lived signed link to the file, for its intern, their supervisor or a coordinator."""
    file = selectors.log_file_for(user=request.user, file_id=file_id)
    return HttpResponseRedirect(LOG_FILE_LINKS.url(file=_log_file(file), user=request.user, claims={"file": file.pk}))


@require_safe
@login_required
def signed_file(request: AuthenticatedHttpRequest, token: str) -> HttpResponseBase:
    claims = LOG_FILE_LINKS.claims(token=token, user=request.user)
    if claims is None:
        raise Http404(_("This link has expired. Open the file again from its page."))
    file = selectors.log_file_for(user=request.user, file_id=int(claims["file"]))
    return stored_file_response(_log_file(file))


# Supervisors -----------------------------------------------------------------------------------------------------


@require_safe
@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_supervisor(request)
    show = request.GET.get("show", "")
    if show not in ("", "behind", "overdue"):
        show = ""
    rows = selectors.dashboard_rows(user=request.user, today=timezone.localdate(), show=show)
    return render(request, "internships/dashboard.html", {"rows": rows, "show": show})


@require_safe
@login_required
def placement_detail(request: AuthenticatedHttpRequest, placement_id: int) -> HttpResponse:
    _require_supervisor(request)
    placement = selectors.placement_for_supervisor(user=request.user, placement_id=placement_id)
    today = timezone.localdate()
    return render(
        request,
        "internships/placement.html",
        {
            "placement": placement,
            "logs": placement.week_logs.prefetch_related("files"),
            "tasks": [(task, selectors.is_overdue(task, today=today)) for task in placement.tasks.all()],
            "task_form": TaskForm(),
            "status_form": TaskStatusForm(),
            "evaluations": selectors.evaluations_of(placement=placement),
            "completion": selectors.placement_completion(placement=placement),
            "may_evaluate": placement.supervisor_id == request.user.pk,
            "check_ins": placement.check_ins.all(),
            "check_in_form": CheckInForm(initial={"held_on": today}),
            "live_check_ins": _check_in_rows(selectors.live_check_ins_of(placement=placement), reader=request.user),
            "schedule_form": CheckInScheduleForm(initial={"day": today}),
            "notes_form": CheckInNotesForm(),
        },
    )


def _check_in_rows(check_ins: list[Any], *, reader: Any) -> list[dict[str, Any]]:
    """Live check-ins as a page shows them: on the reader's city's clock, whether they can still be joined, and
    whether their notes are awaited."""
    now = timezone.now()
    return [
        {
            "live": live,
            "when": city_time(reader.home_region, live.session.starts_at, live.session.ends_at),
            "coming": selectors.is_coming(live, now=now),
            "awaiting_notes": selectors.awaiting_notes(live),
        }
        for live in check_ins
    ]


@require_POST
@login_required
def check_in_schedule(request: AuthenticatedHttpRequest, placement_id: int) -> HttpResponse:
    """The supervisor schedules a one-to-one check-in with their intern on the live page."""
    _require_supervisor(request)
    placement = selectors.placement_for_supervisor(user=request.user, placement_id=placement_id)
    form = form_checked(CheckInScheduleForm(request.POST), code="invalid_check_in")
    live = services.check_in_schedule(
        placement=placement,
        by=request.user,
        starts_at=form.starts_at(city_time_zone(request.user.home_region)),
        minutes=form.cleaned_data["minutes"],
    )
    when = city_time(request.user.home_region, live.session.starts_at, live.session.ends_at)
    messages.success(
        request,
        _("Check-in with %(intern)s scheduled for %(time)s (%(city)s time).")
        % {
            "intern": placement.intern.get_full_name(),
            "time": when.starts.strftime("%Y-%m-%d %H:%M"),
            "city": when.label,
        },
    )
    return redirect("internships:placement", placement_id=placement.pk)


@require_POST
@login_required
def check_in_notes(request: AuthenticatedHttpRequest, live_id: int) -> HttpResponse:
    """The supervisor writes the notes of a live check-in once it has ended."""
    _require_supervisor(request)
    live = selectors.live_check_in_for_supervisor(user=request.user, live_id=live_id)
    form = form_checked(CheckInNotesForm(request.POST), code="invalid_check_in")
    check_in = services.live_check_in_notes(live=live, by=request.user, notes=form.cleaned_data["notes"])
    messages.success(request, _("Check-in of %(day)s recorded.") % {"day": check_in.held_on.isoformat()})
    return redirect("internships:placement", placement_id=live.placement_id)


@require_POST
@login_required
def task_create(request: AuthenticatedHttpRequest, placement_id: int) -> HttpResponse:
    _require_supervisor(request)
    placement = selectors.placement_for_supervisor(user=request.user, placement_id=placement_id)
    form = form_checked(TaskForm(request.POST), code="invalid_task")
    task = services.intern_task_create(placement=placement, by=request.user, **form.cleaned_data)
    messages.success(request, _("Task “%(title)s” set.") % {"title": task.title})
    return redirect("internships:placement", placement_id=placement.pk)


@require_POST
@login_required
def approve(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Approve one week's log or many interns' weeks at once (the dashboard's checkboxes)."""
    _require_supervisor(request)
    form = form_checked(ApproveForm(request.POST), code="invalid_approval")
    count = services.week_logs_approve(log_ids=form.cleaned_data["logs"], by=request.user)
    messages.success(request, _("%(count)s week(s) approved.") % {"count": count})
    target = request.POST.get("back", "")
    if target.startswith("/") and not target.startswith("//"):
        return HttpResponseRedirect(target)
    return redirect("internships:dashboard")


@require_POST
@login_required
def check_in_record(request: AuthenticatedHttpRequest, placement_id: int) -> HttpResponse:
    _require_supervisor(request)
    placement = selectors.placement_for_supervisor(user=request.user, placement_id=placement_id)
    form = form_checked(CheckInForm(request.POST), code="invalid_check_in")
    check_in = services.check_in_record(placement=placement, by=request.user, **form.cleaned_data)
    messages.success(request, _("Check-in of %(day)s recorded.") % {"day": check_in.held_on.isoformat()})
    return redirect("internships:placement", placement_id=placement.pk)


# Evaluations ----------------------------------------------------------------------------------------------------


def _evaluation_page(
    request: AuthenticatedHttpRequest, *, placement: Placement, kind: EvaluationKind, back: str
) -> HttpResponse:
    final = kind == EvaluationKind.FINAL
    if request.method == "POST":
        form = form_checked(EvaluationForm(request.POST, final=final), code="invalid_evaluation")
        services.evaluation_submit(placement=placement, by=request.user, kind=kind, **form.values())
        messages.success(request, _("%(kind)s submitted.") % {"kind": kind.label})
        return HttpResponseRedirect(back)
    existing = selectors.evaluations_of(placement=placement).get(kind)
    return render(
        request,
        "internships/evaluation.html",
        {"placement": placement, "kind": kind, "form": EvaluationForm(final=final), "existing": existing, "back": back},
    )


@require_http_methods(["GET", "POST"])
@login_required
def evaluate(request: AuthenticatedHttpRequest, placement_id: int, kind: str) -> HttpResponse:
    """The supervisor's mid-term or final evaluation of one of their interns."""
    _require_supervisor(request)
    placement = selectors.placement_for_supervisor(user=request.user, placement_id=placement_id)
    if kind not in (EvaluationKind.MIDTERM, EvaluationKind.FINAL):
        raise Http404(_("No such evaluation."))
    if request.method == "POST" and placement.supervisor_id != request.user.pk:
        # Coordinators read evaluations; writing one is the supervisor's (refused before the form is read).
        raise CorridorError("not_your_intern", _("Only the intern's supervisor evaluates them."), status=403)
    back = reverse("internships:placement", kwargs={"placement_id": placement.pk})
    return _evaluation_page(request, placement=placement, kind=EvaluationKind(kind), back=back)


@require_http_methods(["GET", "POST"])
@login_required
def self_evaluate(request: AuthenticatedHttpRequest, placement_id: int) -> HttpResponse:
    """The intern's self-evaluation."""
    placement = selectors.placement_for_intern(user=request.user, placement_id=placement_id)
    return _evaluation_page(request, placement=placement, kind=EvaluationKind.SELF, back=reverse("internships:mine"))


# Coordinators ----------------------------------------------------------------------------------------------------


@require_safe
@login_required
def coordinate(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_coordinator(request)
    return render(
        request,
        "internships/coordinate.html",
        {
            "companies": selectors.companies(),
            "internships": selectors.internships(),
            "placements": selectors.placements_with_everything(),
            "company_form": HostCompanyForm(),
            "internship_form": InternshipForm(),
            "placement_form": PlacementForm(),
        },
    )


@require_POST
@login_required
def company_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_coordinator(request)
    form = form_checked(HostCompanyForm(request.POST), code="invalid_company")
    company = services.host_company_create(by=request.user, **form.cleaned_data)
    messages.success(request, _("%(name)s added.") % {"name": company.name})
    return redirect("internships:coordinate")


@require_POST
@login_required
def internship_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_coordinator(request)
    form = form_checked(InternshipForm(request.POST), code="invalid_internship")
    internship = services.internship_create(by=request.user, **form.cleaned_data)
    messages.success(request, _("%(title)s added.") % {"title": internship.title})
    return redirect("internships:coordinate")


@require_POST
@login_required
def placement_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_coordinator(request)
    form = form_checked(PlacementForm(request.POST), code="invalid_placement")
    placement = services.placement_create(by=request.user, **form.cleaned_data)
    messages.success(
        request,
        _("%(intern)s placed; %(email)s was emailed a sign-in link.")
        % {"intern": placement.intern.get_full_name(), "email": placement.supervisor.email},
    )
    return redirect("internships:coordinate")


# Supervisors' sign-in links ----------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@throttled_per_address("internships-sign-in", limit_setting="INTERNSHIP_SIGN_IN_RATE")
def sign_in_request(request: HttpRequest) -> HttpResponse:
    """A supervisor asks for a sign-in link by email; the answer is the same whoever asks."""
    form = SignInLinkForm(request.POST or None)
    if request.method == "POST":
        form_checked(form, code="invalid_email")
        services.supervisor_sign_in_link_send(email=form.cleaned_data["email"])
        return render(request, "internships/sign_in_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "internships/sign_in_request.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The emailed link: GET shows a button (mail scanners that open links do not use them up), POST signs in; a
    supervisor with two-step sign-in on is asked for their authenticator's code next."""
    user = services.supervisor_from_link(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "internships/sign_in_invalid.html", status=404)
    if request.method == "GET":
        return render(request, "internships/sign_in_link.html", {"person": user})
    backend = settings.AUTHENTICATION_BACKENDS[-1]
    target = reverse("internships:dashboard")
    if user_has_device(user, confirmed=True):
        request.session[PENDING_SIGN_IN] = {
            "user": user.pk,
            "backend": backend,
            "next": target,
            "until": time.time() + PENDING_SECONDS,
            "wrong": 0,
        }
        return redirect("accounts:login-code")
    auth_login(request, user, backend=backend)  # updates last_login: the link is used up
    return HttpResponseRedirect(target)
