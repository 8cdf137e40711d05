"""The invigilator's live console of a sitting (issue 16, item 6): who is checked in, started, paused, disconnected
and submitted, with time left on the server's clock and when each candidate's answers last reached the server;
pause, resume and extra time for one candidate or the room, and the incident log, each with a cause and an
explanation; the sitting's log; and its record for the exam board (CSV).

Who: the exam room's invigilators and administrators (`selectors.user_invigilates`); anyone else gets 403, a forged
sitting 404, a candidate of another sitting 404. The table updates at once through the console's socket
(exams.console_consumer); the forms post here and come back to the console."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from exams import invigilation, selectors
from exams import invigilation_selectors as console
from exams.console_forms import WHOLE_ROOM, ConsoleActionForm, IncidentForm
from exams.models import ActionCause, ActionKind, Candidate, IncidentCategory, Sitting
from exams.record_pdf import sitting_record_pdf
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.forms import form_checked
from lms.timezones import city_time, city_time_zone


def _sitting_invigilated(request: AuthenticatedHttpRequest, sitting_id: int) -> Sitting:
    sitting = get_object_or_404(Sitting.objects.select_related("exam", "room"), pk=sitting_id)
    if not selectors.user_invigilates(user=request.user, room=sitting.room):
        raise PermissionDenied
    return sitting


def _target(sitting: Sitting, value: str) -> Candidate | None:
    """The candidate a form names (None for the whole room); a forged or other sitting's id is not found."""
    if value == WHOLE_ROOM:
        return None
    if not value.isdigit():
        raise Http404
    return get_object_or_404(Candidate.objects.select_related("user"), pk=int(value), sitting=sitting)


def _who(candidate: Candidate | None) -> str:
    if candidate is None:
        return _("the whole room")
    return _("seat %(seat)d") % {"seat": candidate.seat_number}


@require_safe
@login_required
def sitting_console(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = _sitting_invigilated(request, sitting_id)
    rows = console.console_rows(sitting=sitting)
    context = {
        "sitting": sitting,
        "when": city_time(sitting.room.city, sitting.starts_at, sitting.ends_at),
        "time_zone": str(city_time_zone(sitting.room.city)),
        "rows": rows,
        "counts": console.console_counts(rows),
        "log": console.sitting_log(sitting=sitting),
        "actions": ActionKind.choices,
        "causes": ActionCause.choices,
        "categories": IncidentCategory.choices,
        "whole_room": WHOLE_ROOM,
        "console_strings": console.console_strings(),
        "socket_path": f"/ws/exams/sittings/{sitting.pk}/console/",
    }
    return render(request, "exams/console.html", context)


@require_POST
@login_required
def console_action(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    """Pause, resume or give extra time to one candidate or the room; refusals come back to the console."""
    sitting = _sitting_invigilated(request, sitting_id)
    form = form_checked(ConsoleActionForm(request.POST), code="invalid_action")
    data = form.cleaned_data
    candidate = _target(sitting, data["target"])
    common = {
        "sitting": sitting,
        "candidate": candidate,
        "cause": data["cause"],
        "explanation": data["explanation"],
        "by": request.user,
    }
    who = _who(candidate)
    if data["action"] == ActionKind.PAUSE:
        action = invigilation.papers_pause(**common)
        done = _("Paused %(who)s.") % {"who": who}
    elif data["action"] == ActionKind.RESUME:
        action = invigilation.papers_resume(**common)
        done = _("Resumed %(who)s.") % {"who": who}
    else:
        action = invigilation.papers_extra_time(seconds=int(data["minutes"]) * 60, **common)
        done = _("Gave %(who)s %(minutes)d minutes of extra time.") % {"who": who, "minutes": data["minutes"]}
    count = action.papers_changed
    papers = ngettext("%(count)d paper changed.", "%(count)d papers changed.", count) % {"count": count}
    messages.success(request, f"{done} {papers}")
    return redirect(reverse("exams:console", kwargs={"sitting_id": sitting.pk}))


@require_POST
@login_required
def console_incident(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = _sitting_invigilated(request, sitting_id)
    form = form_checked(IncidentForm(request.POST), code="invalid_incident")
    data = form.cleaned_data
    candidate = _target(sitting, data["target"])
    invigilation.incident_record(
        sitting=sitting, candidate=candidate, category=data["category"], note=data["note"], by=request.user
    )
    messages.success(request, _("Incident logged for %(who)s.") % {"who": _who(candidate)})
    return redirect(reverse("exams:console", kwargs={"sitting_id": sitting.pk}))


@require_safe
@login_required
def console_record_csv(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    """The sitting's record for the exam board: candidates, their times, extra time, pauses, incidents, actions."""
    sitting = _sitting_invigilated(request, sitting_id)
    now = timezone.now()
    record = console.sitting_record(sitting=sitting, zone=city_time_zone(sitting.room.city), now=now)
    text = console.sitting_record_csv(record)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"sitting-record-{sitting.exam.code}-{sitting.pk}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response.write("\ufeff")  # a byte-order mark, so Excel reads UTF-8 and shows Chinese names
    response.write(text)
    return response


@require_safe
@login_required
def console_record_pdf(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    """The same record as a PDF, to print and sign for the exam board."""
    sitting = _sitting_invigilated(request, sitting_id)
    record = console.sitting_record(sitting=sitting, zone=city_time_zone(sitting.room.city), now=timezone.now())
    pdf = sitting_record_pdf(
        record,
        title=_("Sitting record for the exam board"),
        candidates=_("Candidates"),
        log=_("Sitting log"),
        page_label=_("Page {page} of {pages}"),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="sitting-record-{sitting.exam.code}-{sitting.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
