"""Exam centre pages. Anyone: the exams and an exam's page (its sittings, its preparatory courses). Trainees:
registering for a sitting, their registrations and admission slips. Invigilators (their rooms) and administrators:
the sittings and their candidates; administrators prepare papers.

Every view checks who asks before reading anything; services check again before writing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe
from wagtail.models import Locale

from exams import selectors, services
from exams.forms import CheckInForm
from exams.models import Candidate, Exam, Sitting
from exams.slip import admission_slip_pdf
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.accounts.roles import Role, user_roles
from lms.forms import form_checked
from lms.timezones import city_time


@require_safe
def exam_index(request: HttpRequest) -> HttpResponse:
    return render(request, "exams/exam_index.html", {"exams": selectors.exams_listed()})


@require_safe
def exam_detail(request: HttpRequest, code: str) -> HttpResponse:
    exam = get_object_or_404(Exam, code=code)
    context = {
        "exam": exam,
        "sittings": selectors.upcoming_sittings(exam=exam, user=request.user),
        "courses": selectors.exam_preparatory_courses(exam=exam, locale=Locale.get_active()),
        "is_trainee": Role.TRAINEE in user_roles(request.user),
        "prerequisite_met": (
            not exam.requires_preparatory_course
            or (request.user.is_authenticated and selectors.preparatory_course_completed(user=request.user, exam=exam))
        ),
    }
    return render(request, "exams/exam_detail.html", context)


@require_POST
@login_required
def sitting_register(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = get_object_or_404(Sitting.objects.select_related("exam"), pk=sitting_id)
    candidate = services.candidate_register(sitting=sitting, user=request.user)
    messages.success(
        request,
        _("You are registered for %(exam)s, seat %(seat)d. Download your admission slip below.")
        % {"exam": sitting.exam.code, "seat": candidate.seat_number},
    )
    return redirect("exams:mine")


@require_safe
@login_required
def my_exams(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "exams/mine.html", {"registrations": selectors.registrations_of(user=request.user)})


@require_safe
@login_required
def admission_slip(request: AuthenticatedHttpRequest, candidate_id: int) -> HttpResponse:
    """The candidate's own slip (administrators may print anyone's); anyone else is told it does not exist."""
    candidate = get_object_or_404(
        Candidate.objects.select_related("sitting__exam", "sitting__room", "user"), pk=candidate_id
    )
    if candidate.user_id != request.user.pk and not selectors.user_is_exam_admin(request.user):
        raise PermissionDenied
    pdf = admission_slip_pdf(selectors.candidate_slip_fields(candidate=candidate))
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"admission-slip-{candidate.sitting.exam.code}-{candidate.number}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
@login_required
def sitting_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not ({Role.INVIGILATOR, Role.ADMINISTRATOR} & user_roles(request.user)):
        raise PermissionDenied
    return render(request, "exams/sitting_index.html", {"sittings": selectors.sittings_run_by(user=request.user)})


def _sitting_run_by(request: AuthenticatedHttpRequest, sitting_id: int) -> Sitting:
    sitting = get_object_or_404(Sitting.objects.select_related("exam", "room"), pk=sitting_id)
    if not selectors.user_invigilates(user=request.user, room=sitting.room):
        raise PermissionDenied
    return sitting


@require_safe
@login_required
def sitting_detail(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = _sitting_run_by(request, sitting_id)
    context = {
        "sitting": sitting,
        "when": city_time(sitting.room.city, sitting.starts_at, sitting.ends_at),
        "candidates": selectors.sitting_candidates(sitting=sitting),
        "is_admin": selectors.user_is_exam_admin(request.user),
    }
    return render(request, "exams/sitting_detail.html", context)


@require_POST
@login_required
def sitting_prepare_papers(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = get_object_or_404(Sitting, pk=sitting_id)
    if not selectors.user_is_exam_admin(request.user):
        raise PermissionDenied
    built = services.paper_prepare(sitting=sitting)
    messages.success(
        request,
        _("%(count)d papers prepared; every candidate registered so far has one.") % {"count": built},
    )
    return redirect(reverse("exams:sitting", kwargs={"sitting_id": sitting.pk}))


@login_required
def sitting_check_in(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    """The invigilator's check-in: scan (or paste) the slip's QR code, see who it names, confirm their identity; the
    candidate is then checked in to their seat. Refusals come back to this page with the reason."""
    sitting = _sitting_run_by(request, sitting_id)
    candidate = None
    token = ""
    if request.method == "POST":
        form = form_checked(CheckInForm(request.POST), code="invalid_slip")
        token = form.cleaned_data["token"]
        if form.cleaned_data["confirm"]:
            checked = services.candidate_check_in(sitting=sitting, token=token, by=request.user)
            messages.success(
                request,
                _("%(name)s is checked in: seat %(seat)d.")
                % {"name": checked.user.get_full_name() or checked.user.email, "seat": checked.seat_number},
            )
            return redirect("exams:check-in", sitting_id=sitting.pk)
        candidate = services.candidate_for_check_in(sitting=sitting, token=token, by=request.user)
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    candidates = selectors.sitting_candidates(sitting=sitting)
    context = {
        "sitting": sitting,
        "when": city_time(sitting.room.city, sitting.starts_at, sitting.ends_at),
        "candidate": candidate,
        "token": token,
        "checked_in": sum(1 for c in candidates if c.checked_in_at),
        "registered": len(candidates),
        "open": services.check_in_open(sitting=sitting, now=timezone.now()),
    }
    return render(request, "exams/check_in.html", context)
