"""The candidate's exam page and its JSON endpoints (the page's script, frontend/static/exams/exam.js, uses them).

Only the candidate sees their registration's exam page and their paper; anyone else is told it does not exist.
Saves are idempotent (the page's sequence numbers), so the page sends its queue again until it is acknowledged."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from exams import attempt_selectors, attempts, services
from exams.attempts import AnswerIn
from exams.consumers import HEARTBEAT_SECONDS
from exams.models import Paper
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.errors import CorridorError
from lms.timezones import city_time

# How often the page saves an answer being typed (every answer chosen is saved at once).
TYPING_SAVE_SECONDS = 5


@require_safe
@login_required
def exam_take(request: AuthenticatedHttpRequest, candidate_id: int) -> HttpResponse:
    """The candidate's exam: instructions and the start button; then the paper; then when it was submitted."""
    candidate = attempt_selectors.candidate_of(candidate_id=candidate_id, user=request.user)
    if candidate is None:
        raise Http404
    now = timezone.now()
    paper = attempt_selectors.paper_of_candidate(candidate=candidate)
    if paper is not None and paper.started_at is not None and paper.submitted_at is None:
        attempts.paper_submit_if_time_up(paper_id=paper.pk, now=now)
        paper.refresh_from_db()
    sitting = candidate.sitting
    context: dict[str, Any] = {
        "candidate": candidate,
        "sitting": sitting,
        "exam": sitting.exam,
        "when": city_time(sitting.room.city, sitting.starts_at, sitting.ends_at),
        "paper": paper,
        "open": sitting.starts_at <= now < sitting.ends_at,
        "not_yet": now < sitting.starts_at,
        "check_in_open": services.check_in_open(sitting=sitting, now=now),
    }
    if paper is not None and paper.started_at is not None and paper.submitted_at is None:
        context["questions"] = attempt_selectors.paper_questions(paper=paper)
        context["state"] = attempt_selectors.paper_state(paper=paper, now=now)
        context["config"] = {
            "paper": paper.pk,
            "typing_save_seconds": TYPING_SAVE_SECONDS,
            "heartbeat_seconds": HEARTBEAT_SECONDS,
        }
    return render(request, "exams/take.html", context)


@require_POST
@login_required
def exam_start(request: AuthenticatedHttpRequest, candidate_id: int) -> HttpResponse:
    attempts.attempt_start(candidate_id=candidate_id, by=request.user)
    return redirect("exams:take", candidate_id=candidate_id)


def _own_paper(request: AuthenticatedHttpRequest, paper_id: int) -> int:
    """The paper's id if it is the user's own (anyone else: not found)."""
    if not attempt_selectors.paper_is_theirs(paper_id=paper_id, user=request.user):
        raise Http404
    return paper_id


def _state(paper_id: int) -> dict[str, Any]:
    now = timezone.now()
    paper = Paper.objects.select_related("candidate__sitting__exam").get(pk=paper_id)
    return attempt_selectors.paper_state(paper=paper, now=now)


@require_safe
@login_required
def paper_state(request: AuthenticatedHttpRequest, paper_id: int) -> JsonResponse:
    """The paper as it is now; a paper whose time is up is submitted first (every read checks)."""
    attempts.paper_submit_if_time_up(paper_id=_own_paper(request, paper_id))
    response = JsonResponse(_state(paper_id))
    response["Cache-Control"] = "private, no-store"
    return response


def _answers_in(body: bytes) -> list[AnswerIn]:
    """The save's answers, checked for shape (the service checks them against the paper)."""
    invalid = CorridorError("invalid_save", _("That save is not valid: reload the page."))
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise invalid from None
    rows = data.get("answers") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise invalid
    answers = []
    for row in rows:
        if not isinstance(row, dict):
            raise invalid
        question, seq = row.get("question"), row.get("seq")
        choices, text = row.get("choices", []), row.get("text", "")
        if type(question) is not int or type(seq) is not int or not isinstance(text, str):
            raise invalid
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise invalid
        answers.append(AnswerIn(question=question, seq=seq, choices=tuple(choices), text=text))
    return answers


@require_POST
@login_required
def paper_answers(request: AuthenticatedHttpRequest, paper_id: int) -> JsonResponse:
    """Save answers: `{"answers": [{"question", "seq", "choices" | "text"}, …]}`, in the page's order. The service
    checks that the paper is the user's under its row lock (another person's paper: not found)."""
    try:
        answers = _answers_in(request.body)
    except CorridorError:
        _own_paper(request, paper_id)  # someone else's paper is not found, whatever they sent
        raise
    result = attempts.answers_save(paper_id=paper_id, by=request.user, answers=answers)
    return JsonResponse(
        {
            "applied": result.applied,
            "acknowledged": result.acknowledged,
            "last_seq": result.last_seq,
            "last_saved_at": result.last_saved_at.isoformat() if result.last_saved_at else None,
            "seconds_left": round(result.seconds_left, 1),
        }
    )


@require_POST
@login_required
def paper_submit(request: AuthenticatedHttpRequest, paper_id: int) -> HttpResponse:
    paper = attempts.paper_submit(paper_id=_own_paper(request, paper_id), by=request.user)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(_state(paper.pk))
    return redirect("exams:take", candidate_id=paper.candidate_id)
