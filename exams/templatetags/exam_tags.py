"""The course page asks, from below, which exams a preparatory course leads to: courses cannot import exams (the
layers), so the exam holds the link and this tag, loaded by the course page's template, reads it."""

from __future__ import annotations

from django import template

from courses.models import CourseKind, CoursePage
from exams import selectors
from exams.models import Exam

register = template.Library()


@register.simple_tag
def exams_prepared_for(course: CoursePage) -> list[Exam]:
    """The exams a preparatory course prepares for (none for other kinds of course)."""
    if course.kind != CourseKind.PREPARATORY:
        return []
    return list(selectors.exams_prepared_for(course=course))
