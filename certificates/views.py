"""Certificate pages. Administrators: courses, eligibility report, rule, issuing, batches, revoking.
Trainees: their certificates and files. Anyone: verification (page and JSON), the issuer's key, status lists.

Every view checks who asks before reading anything; services check again before writing.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from certificates import documents, selectors, services, verification
from certificates.forms import (
    BatchStartForm,
    CertificateRuleForm,
    CohortFilterForm,
    IssueOneForm,
    RevokeForm,
    VerifyCodeForm,
)
from certificates.models import Certificate, CertificateState, IssueBatch
from courses.models import CoursePage
from exams.models import Exam
from lms.accounts.models import Cohort, User
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.files import stored_file_response
from lms.forms import form_checked
from lms.throttle import throttled_per_address

MAX_CREDENTIAL_BYTES = 256 * 1024
# A credential nests a few levels (proof, credentialSubject, its achievement): far deeper is an attack on the checker.
MAX_CREDENTIAL_DEPTH = 32


def _require_administrator(request: HttpRequest) -> None:
    if not selectors.may_issue(request.user):
        raise PermissionDenied


def _course(course_id: int) -> CoursePage:
    return get_object_or_404(CoursePage, pk=course_id)


# Administrators -------------------------------------------------------------------------------------------------


@require_safe
@login_required
def course_list(request: HttpRequest) -> HttpResponse:
    _require_administrator(request)
    return render(request, "certificates/course_list.html", {"courses": selectors.courses_for_issuers(request=request)})


@require_safe
@login_required
def course_eligibility(request: HttpRequest, course_id: int) -> HttpResponse:
    _require_administrator(request)
    course = _course(course_id)
    rule = selectors.rule_in_force(course_key=course.translation_key)
    cohorts = Cohort.objects.all()
    cohort = form_checked(CohortFilterForm(request.GET), code="invalid_filter").cleaned_data["cohort"]
    report = selectors.course_eligibility(course=course, rule=rule, cohort=cohort) if rule else None
    return render(
        request,
        "certificates/eligibility.html",
        {
            "course": course,
            "rule": rule,
            "report": report,
            "cohorts": cohorts,
            "cohort": cohort,
            "batches": IssueBatch.objects.filter(course_key=course.translation_key)[:5],
            "default_pass_mark": selectors.default_pass_mark(course=course),
            "exams": Exam.objects.order_by("code"),
        },
    )


@require_POST
@login_required
def rule_save(request: HttpRequest, course_id: int) -> HttpResponse:
    _require_administrator(request)
    course = _course(course_id)
    form = form_checked(CertificateRuleForm(request.POST), code="invalid_rule")
    rule = services.certificate_rule_set(course=course, by=request.user, **form.rule_values())
    messages.success(request, _("Rule version %(version)s saved.") % {"version": rule.version})
    return redirect("certificates:eligibility", course_id=course.pk)


@require_POST
@login_required
def issue_one(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    _require_administrator(request)
    course = _course(course_id)
    trainees = selectors.course_trainees(course_key=course.translation_key)
    form = form_checked(IssueOneForm(request.POST, trainees=trainees), code="invalid_issue")
    trainee: User = form.cleaned_data["user"]
    certificate = services.certificate_issue(
        user=trainee, course=course, by=request.user, override_justification=form.cleaned_data["justification"]
    )
    messages.success(
        request, _("Certificate %(code)s issued to %(name)s.") % {"code": certificate.code, "name": trainee}
    )
    return redirect("certificates:eligibility", course_id=course.pk)


@require_POST
@login_required
def batch_start(request: HttpRequest, course_id: int) -> HttpResponse:
    _require_administrator(request)
    course = _course(course_id)
    trainees = selectors.course_trainees(course_key=course.translation_key)
    form = form_checked(BatchStartForm(request.POST, trainees=trainees), code="invalid_batch")
    batch = services.certificate_batch_start(
        course=course, by=request.user, cohort=form.cleaned_data["cohort"], user_ids=form.user_ids()
    )
    return redirect("certificates:batch", batch_id=batch.pk)


def _batch(request: HttpRequest, batch_id: int) -> IssueBatch:
    _require_administrator(request)
    return get_object_or_404(IssueBatch.objects.select_related("rule", "cohort"), pk=batch_id)


@require_safe
@login_required
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    course = CoursePage.objects.filter(translation_key=batch.course_key).first()
    progress = selectors.batch_progress(batch=batch)
    return render(
        request,
        "certificates/batch.html",
        {"batch": batch, "course": course, "progress": progress, "progress_json": progress.as_json()},
    )


@require_safe
@never_cache
@login_required
def batch_progress(request: HttpRequest, batch_id: int) -> JsonResponse:
    batch = _batch(request, batch_id)
    return JsonResponse(selectors.batch_progress(batch=batch).as_json())


@require_POST
@login_required
def batch_retry(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    count = services.certificate_batch_retry(batch=batch, by=request.user)
    messages.info(request, _("%(count)s certificates queued again.") % {"count": count})
    return redirect("certificates:batch", batch_id=batch.pk)


@require_POST
@login_required
def revoke(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    _require_administrator(request)
    certificate = get_object_or_404(Certificate, code=code)
    form = form_checked(RevokeForm(request.POST), code="reason_required")
    services.certificate_revoke(certificate=certificate, by=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, _("Certificate %(code)s revoked.") % {"code": certificate.code})
    return redirect("certificates:verify", code=certificate.code)


# Trainees ------------------------------------------------------------------------------------------------------


@require_safe
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    return render(request, "certificates/mine.html", {"certificates": selectors.certificates_of(user=request.user)})


@require_safe
@never_cache
@login_required
def certificate_file(request: HttpRequest, code: str, kind: str) -> HttpResponse:
    """The owner (or an administrator) gets a fresh short-lived link; anyone else a 404 that reveals nothing."""
    certificate = selectors.certificate_for_download(code=code, user=request.user)
    if certificate is None or kind not in documents.FILE_KINDS:
        raise Http404
    return HttpResponseRedirect(documents.file_signed_url(certificate=certificate, kind=kind, user=request.user))


@require_safe
@never_cache
@login_required
def signed_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """Local storage (the embedded default): serve a file for a valid, unexpired link made for this user."""
    found = documents.file_from_token(token=token, user=request.user)
    if found is None:
        raise Http404
    certificate, kind = found
    return stored_file_response(documents.certificate_file(certificate=certificate, kind=kind))


# Anyone -------------------------------------------------------------------------------------------------------


@require_safe
def verify_redirect(request: HttpRequest, code: str) -> HttpResponse:
    """The QR code's URL, without a language: on to the page in the visitor's language."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        return redirect("certificates:verify", code=code)


@require_safe
def verify_form(request: HttpRequest) -> HttpResponse:
    form = VerifyCodeForm(request.GET)
    if not form.is_valid():
        return render(request, "certificates/verify_form.html", {"form": form}, status=400)
    if form.cleaned_data["code"]:
        return redirect("certificates:verify", code=form.cleaned_data["code"])
    return render(request, "certificates/verify_form.html", {"form": form})


@require_safe
@throttled_per_address("certificate-verify", limit_setting="CERTIFICATE_VERIFY_RATE")
def verify_page(request: HttpRequest, code: str) -> HttpResponse:
    outcome = verification.certificate_verify_by_code(code=code)
    if outcome is None or outcome.certificate is None:
        return render(request, "certificates/verify_unknown.html", {"code": code[:40]}, status=404)
    certificate = outcome.certificate
    return render(
        request,
        "certificates/verify.html",
        {
            "certificate": certificate,
            "outcome": outcome,
            "may_revoke": selectors.may_issue(request.user) and certificate.state == CertificateState.ISSUED,
            "json_url": reverse("verify:json", kwargs={"code": certificate.code}),
            "key_url": reverse("verify:issuer-key"),
        },
    )


@require_safe
@throttled_per_address("certificate-verify", limit_setting="CERTIFICATE_VERIFY_RATE")
def verify_json(request: HttpRequest, code: str) -> JsonResponse:
    outcome = verification.certificate_verify_by_code(code=code)
    if outcome is None:
        return JsonResponse(
            {"status": "unknown", "error": {"code": "not_found", "message": _("No certificate has that code.")}},
            status=404,
        )
    return JsonResponse(outcome.as_json())


@csrf_exempt  # a public, read-only check: it changes nothing, so a cross-site post gains nothing
@require_POST
@throttled_per_address("certificate-verify", limit_setting="CERTIFICATE_VERIFY_RATE")
def verify_credential(request: HttpRequest) -> JsonResponse:
    """Check a credential someone holds (JSON body): signature, and whether it was revoked."""
    if len(request.body) > MAX_CREDENTIAL_BYTES:
        return JsonResponse(
            {"status": "invalid", "reason": "too_large", "message": _("That is too large.")}, status=413
        )
    try:
        document: object = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return JsonResponse({"status": "invalid", "reason": "malformed", "message": _("That is not JSON.")}, status=400)
    except RecursionError:  # nested deeper than the parser goes: no credential is
        return JsonResponse(
            {"status": "invalid", "reason": "too_deep", "message": _("That is nested too deeply.")}, status=400
        )
    if not isinstance(document, dict):
        return JsonResponse(
            {"status": "invalid", "reason": "not_object", "message": _("A credential is a JSON object.")}, status=400
        )
    if _nesting_depth(document) > MAX_CREDENTIAL_DEPTH:
        return JsonResponse(
            {"status": "invalid", "reason": "too_deep", "message": _("That is nested too deeply.")}, status=400
        )
    return JsonResponse(verification.credential_document_verify(document=document).as_json())


def _nesting_depth(value: object, limit: int = 64) -> int:
    """How deeply `value` nests lists and objects (counting stops past `limit`), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


@require_safe
def issuer_key(request: HttpRequest) -> JsonResponse:
    return JsonResponse(documents.issuer_key_document(), json_dumps_params={"indent": 2})


@require_safe
def status_list(request: HttpRequest, number: int) -> JsonResponse:
    return JsonResponse(documents.status_list_credential(number=number))
