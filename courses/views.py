from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from wagtail.models import Locale

from courses import selectors, services
from courses.forms import QuizAnswersForm
from courses.models import CoursePage, LessonPage
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.forms import form_checked


@require_POST
@login_required
def course_enrol(request: AuthenticatedHttpRequest, page_id: int) -> HttpResponse:
    course = get_object_or_404(CoursePage, pk=page_id)
    services.enrolment_create(user=request.user, course=course)
    messages.success(request, _("You are enrolled in %(course)s.") % {"course": course.title})
    return redirect(course.get_url(request))


@require_POST
@login_required
def lesson_complete(request: AuthenticatedHttpRequest, page_id: int) -> HttpResponse:
    lesson = get_object_or_404(LessonPage, pk=page_id)
    services.lesson_complete(user=request.user, lesson=lesson)
    messages.success(request, _("Lesson completed."))
    return redirect(lesson.get_url(request))


@require_POST
@login_required
def quiz_submit(request: AuthenticatedHttpRequest, page_id: int, block_id: str) -> HttpResponse:
    lesson = get_object_or_404(LessonPage, pk=page_id)
    form = form_checked(QuizAnswersForm(request.POST), code="invalid_answer")
    attempt = services.quiz_submit(user=request.user, lesson=lesson, quiz_block_id=block_id, answers=form.answers())
    outcome = _("Passed") if attempt.passed else _("Not passed yet")
    messages.success(
        request,
        _("%(outcome)s: %(score)d of %(total)d correct.")
        % {"outcome": outcome, "score": attempt.score, "total": attempt.max_score},
    )
    return redirect(f"{lesson.get_url(request)}#quiz-{block_id}")


@login_required
def my_learning(request: HttpRequest) -> HttpResponse:
    locale = Locale.get_active()
    return render(
        request, "courses/my_learning.html", {"entries": selectors.my_learning(user=request.user, locale=locale)}
    )
