"""The exam centre's marking in templates: the candidate's released result, shown with their registration on "My
exams" (exams.marking.candidate_result: nothing of it before the sitting's results are released), and whether the
signed-in person marks an exam (the menu)."""

from __future__ import annotations

from typing import Any

from django import template

from exams import marking
from exams.models import Candidate, Paper

register = template.Library()


@register.inclusion_tag("exams/_result.html")
def exam_result(candidate: Candidate) -> dict[str, Any]:
    paper = Paper.objects.filter(candidate=candidate).select_related("candidate__sitting__exam").first()
    submitted = paper is not None and paper.submitted_at is not None
    return {
        "candidate": candidate,
        "submitted": submitted,
        "result": marking.candidate_result(paper=paper) if submitted else None,
    }


@register.simple_tag(takes_context=True)
def marks_exams(context: Any) -> bool:
    """Whether the signed-in person marks or moderates an exam (the menu's "Marking")."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return user is not None and marking.exams_marked_by(user=user).exists()
