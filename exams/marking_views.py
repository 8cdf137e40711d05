"""Marking and results pages. Markers and moderators (an exam's): their queue per exam and the marking page of one
written answer, anonymised. Administrators: a sitting's results (marking progress, distribution) and their release.
The candidate reads their released result on "My exams" (exams.views.my_exams).

Every view checks who asks before reading anything; exams.marking checks again before writing."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from exams import marking, selectors
from exams.models import Exam, MarkStage, Sitting
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.errors import CorridorError
from lms.forms import form_checked
from lms.timezones import city_time

COMMENT_MAX_LENGTH = 4000


class MarkForm(forms.Form):
    stage = forms.ChoiceField(choices=MarkStage.choices, label=gettext_lazy("Stage"))
    marks = forms.IntegerField(min_value=0, label=gettext_lazy("Marks"))
    comment = forms.CharField(required=False, max_length=COMMENT_MAX_LENGTH, label=gettext_lazy("Comment"))


class ReleaseForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("Confirm"),
        error_messages={"required": gettext_lazy("Tick the box to confirm: candidates are emailed at once.")},
    )


@require_safe
@login_required
def marking_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The exams a person marks or moderates, each with what waits for them; refused to anyone who marks none."""
    exams = list(marking.exams_marked_by(user=request.user))
    if not exams:
        raise PermissionDenied
    rows = [
        {
            "exam": exam,
            "waiting": len(marking.marking_queue(exam=exam, user=request.user)),
            "progress": marking.marking_progress(exam=exam),
        }
        for exam in exams
    ]
    return render(request, "exams/marking_index.html", {"rows": rows})


@require_safe
@login_required
def marking_queue(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    exam = get_object_or_404(Exam, code=code)
    if not (marking.user_marks(user=request.user, exam=exam) or marking.user_moderates(user=request.user, exam=exam)):
        raise PermissionDenied
    entries = marking.marking_queue(exam=exam, user=request.user)
    stages = [
        {"stage": stage, "entries": [entry for entry in entries if entry.stage == stage]}
        for stage in MarkStage
        if stage != MarkStage.SECOND or exam.second_marking_required
    ]
    context = {"exam": exam, "stages": stages, "progress": marking.marking_progress(exam=exam), "count": len(entries)}
    return render(request, "exams/marking_queue.html", context)


@login_required
def mark_answer(request: AuthenticatedHttpRequest, answer_id: int) -> HttpResponse:
    """One written answer to mark (GET), and its marks (POST): then the next answer waiting, or the queue."""
    if request.method == "POST":
        form = form_checked(MarkForm(request.POST), code="invalid_marks")
        mark = marking.mark_record(
            answer_id=answer_id,
            by=request.user,
            stage=form.cleaned_data["stage"],
            marks=form.cleaned_data["marks"],
            comment=form.cleaned_data["comment"],
        )
        exam = mark.answer.question.exam
        messages.success(
            request,
            _("Marks saved: %(marks)d for candidate %(number)s.")
            % {"marks": mark.marks, "number": mark.answer.paper.candidate.number},
        )
        following = marking.marking_queue(exam=exam, user=request.user)
        if following:
            return redirect("exams:mark-answer", answer_id=following[0].answer.pk)
        return redirect("exams:marking-queue", code=exam.code)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "POST"])
    script = marking.script_for_marker(answer_id=answer_id, user=request.user)
    queue = marking.marking_queue(exam=script.exam, user=request.user)
    context = {"script": script, "left": len(queue), "stages": MarkStage}
    return render(request, "exams/mark_answer.html", context)


def _sitting_for_admin(request: AuthenticatedHttpRequest, sitting_id: int) -> Sitting:
    sitting = get_object_or_404(Sitting.objects.select_related("exam", "room"), pk=sitting_id)
    if not selectors.user_is_exam_admin(request.user):
        raise PermissionDenied
    return sitting


@require_safe
@login_required
def sitting_results(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = _sitting_for_admin(request, sitting_id)
    results = marking.sitting_results(sitting=sitting)
    # The distribution as an inline SVG (viewBox 100 × 60): ten bars of ten percent each, the tallest 45 high.
    tallest = max([count for _label, count in results.bands] + [1])
    bars = []
    for index, (label, count) in enumerate(results.bands):
        height = round(45 * count / tallest)
        bars.append(
            {
                "label": label,
                "count": count,
                "x": 10 * index,
                "height": height,
                "y": 50 - height,
                "label_y": 48 - height,
            }
        )
    context = {
        "sitting": sitting,
        "when": city_time(sitting.room.city, sitting.starts_at, sitting.ends_at),
        "results": results,
        "bars": bars,
    }
    return render(request, "exams/sitting_results.html", context)


@require_POST
@login_required
def sitting_results_release(request: AuthenticatedHttpRequest, sitting_id: int) -> HttpResponse:
    sitting = _sitting_for_admin(request, sitting_id)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        raise CorridorError("confirm_required", _("Tick the box to confirm: candidates are emailed at once."))
    told = marking.results_release(sitting=sitting, by=request.user)
    messages.success(
        request, _("Results released: %(count)d candidates are emailed and can read them now.") % {"count": told}
    )
    return redirect("exams:results", sitting_id=sitting.pk)
