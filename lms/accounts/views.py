import io
import time
from base64 import b32encode
from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import user_has_device

from lms.accounts.models import DataExport, DataExportState, MediaRegion, Region, User
from lms.accounts.roles import Role, user_roles
from lms.accounts.selectors import data_exports_of, sign_in_lockouts
from lms.accounts.services import (
    data_export_request,
    sign_in_unlock,
    user_erase,
    user_is_erased,
    user_media_settings_set,
    user_totp_confirm,
    user_totp_device,
    user_totp_start,
    user_totp_turn_off,
)
from lms.files import SignedFileLinks, StoredFile, stored_file_response


@login_required
def after_login(request: HttpRequest) -> HttpResponse:
    """Land each person in their own language, on the page their role starts from."""
    language = request.user.preferred_language  # type: ignore[union-attr]
    roles = user_roles(request.user)
    if roles & {Role.INSTRUCTOR, Role.ADMINISTRATOR}:
        target = "/admin/"
    elif Role.TRAINEE in roles:
        target = f"/{language}/learning/"
    else:
        target = f"/{language}/"
    translation.activate(language)
    response = HttpResponseRedirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


class MediaSettingsForm(forms.Form):
    home_region = forms.ChoiceField(label=gettext_lazy("Where I am"), choices=Region.choices)
    media_region = forms.ChoiceField(
        label=gettext_lazy("Live video comes through"),
        choices=MediaRegion.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Automatic lets your browser time both cities' media servers when a class starts and use the nearer."
        ),
    )


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    """The person's own settings: their region and which city's media server their live video comes through."""
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        form = MediaSettingsForm(request.POST)
        if form.is_valid():
            user_media_settings_set(
                user=user, home_region=form.cleaned_data["home_region"], media_region=form.cleaned_data["media_region"]
            )
            messages.success(request, _("Your settings are saved."))
            return redirect("accounts:settings")
    else:
        form = MediaSettingsForm(initial={"home_region": user.home_region, "media_region": user.media_region})
    context: dict[str, Any] = {
        "form": form,
        "may_use_two_step": may_use_two_step(user),
        "exports": data_exports_of(user=user)[:5],
        "erase_form": SelfEraseForm(user=user),
    }
    if context["may_use_two_step"]:
        pending = user_totp_device(user=user, confirmed=False)
        context["two_step_on"] = user_totp_device(user=user, confirmed=True) is not None
        context["two_step_pending"] = pending
        context["two_step_secret"] = _grouped_secret(pending.bin_key) if pending else ""
    return render(request, "accounts/settings.html", context, status=400 if form.errors else 200)


# Two-step sign-in ----------------------------------------------------------------------------------------------

PENDING_SIGN_IN = "corridor_pending_sign_in"
# How long a person has, after their password, to type the code.
PENDING_SECONDS = 300


def may_use_two_step(user: Any) -> bool:
    """Two-step sign-in is offered to administrators (those who can change the whole site) and to company
    supervisors (who otherwise sign in with emailed links), for those who choose it."""
    return bool(user_roles(user) & {Role.ADMINISTRATOR, Role.SUPERVISOR})


def _grouped_secret(key: bytes) -> str:
    """The secret as an authenticator app takes it by hand: base32, in groups of four."""
    text = b32encode(key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def locked_out(request: HttpRequest, *args: object) -> HttpResponse:
    """django-axes' answer to a sign-in refused for too many failures (AXES_LOCKOUT_CALLABLE): a page, in the
    reader's language, with how long to wait; 429 Too Many Requests."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(
        request,
        "accounts/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes},
        status=429,
    )


class SignInView(auth_views.LoginView):
    """The one sign-in page (the admin's leads here). A password that matches signs in at once, unless the account
    has two-step sign-in on: then the next page asks for the authenticator's code first."""

    template_name = "accounts/login.html"

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not user_has_device(user, confirmed=True):
            return super().form_valid(form)
        self.request.session[PENDING_SIGN_IN] = {
            "user": user.pk,
            "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
            "next": self.get_redirect_url(),
            "until": time.time() + PENDING_SECONDS,
            "wrong": 0,
        }
        return redirect("accounts:login-code")


class SignInCodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code from your authenticator app"), max_length=12)


@never_cache
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second step: the code from the authenticator app of a person whose password matched a moment ago."""
    pending = request.session.get(PENDING_SIGN_IN)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        request.session.pop(PENDING_SIGN_IN, None)
        messages.error(request, _("Sign in again: the code was not entered in time."))
        return redirect("accounts:login")
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING_SIGN_IN, None)
        return redirect("accounts:login")
    form = SignInCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        device = user_totp_device(user=user, confirmed=True)
        if device is None:
            # Turned off in the meantime: the password alone signed in, as it would now.
            del request.session[PENDING_SIGN_IN]
            return redirect("accounts:login")
        if not device.verify_is_allowed()[0]:
            # django-otp waits longer after each wrong code (1 s, 2 s, 4 s...): say so rather than "wrong".
            error, status = _("Too many tries in a row: wait a few seconds, then enter the code again."), 429
        elif device.verify_token(form.cleaned_data["code"].strip().replace(" ", "")):
            del request.session[PENDING_SIGN_IN]
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, device)
            next_url = pending.get("next") or ""
            if not url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                next_url = resolve_url(settings.LOGIN_REDIRECT_URL)
            return HttpResponseRedirect(next_url)
        else:
            error, status = _("That code is not right. Enter the six digits your app shows now."), 400
        pending["wrong"] += 1
        if pending["wrong"] >= settings.LOGIN_CODE_ATTEMPTS:
            del request.session[PENDING_SIGN_IN]
            messages.error(request, _("Too many wrong codes. Sign in again with your password."))
            return redirect("accounts:login")
        request.session[PENDING_SIGN_IN] = pending
        form.add_error("code", error)
    elif form.errors:
        status = 400
    return render(request, "accounts/login_code.html", {"form": form}, status=status)


def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """Wagtail's own sign-in page leads to the site's, so the throttle and the code prompt cover the admin too."""
    target = resolve_url("accounts:login")
    next_url = request.GET.get("next", "")
    if next_url:
        target = f"{target}?{urlencode({'next': next_url})}"
    return HttpResponseRedirect(target)


def _two_step_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    if not may_use_two_step(user):
        raise Http404
    return user


@require_POST
@login_required
def two_step_start(request: HttpRequest) -> HttpResponse:
    user_totp_start(user=_two_step_user(request))
    return redirect(f"{resolve_url('accounts:settings')}#two-step")


@require_POST
@login_required
def two_step_confirm(request: HttpRequest) -> HttpResponse:
    user_totp_confirm(user=_two_step_user(request), code=request.POST.get("code", ""))
    messages.success(request, _("Two-step sign-in is on: signing in now also asks for a code from your app."))
    return redirect("accounts:settings")


@require_POST
@login_required
def two_step_off(request: HttpRequest) -> HttpResponse:
    user_totp_turn_off(
        user=_two_step_user(request), password=request.POST.get("password", ""), code=request.POST.get("code", "")
    )
    messages.success(request, _("Two-step sign-in is off."))
    return redirect("accounts:settings")


@never_cache
@login_required
def two_step_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of the authenticator being set up (never of one already confirmed)."""
    device = user_totp_device(user=_two_step_user(request), confirmed=False)
    if device is None:
        raise Http404
    out = io.BytesIO()
    segno.make(device.config_url, error="m").save(out, kind="svg", scale=4, border=2)
    return HttpResponse(out.getvalue(), content_type="image/svg+xml")


# Locked sign-ins (administrators) ------------------------------------------------------------------------------


def _require_administrator(request: HttpRequest) -> None:
    if Role.ADMINISTRATOR not in user_roles(request.user):
        raise PermissionDenied


@never_cache
@login_required
def locked_sign_ins(request: HttpRequest) -> HttpResponse:
    """Accounts and addresses with failed sign-ins, and a button to unlock each (linked from the admin menu)."""
    _require_administrator(request)
    if request.method == "POST":
        try:
            attempt_id = int(request.POST.get("attempt", ""))
        except ValueError:
            return HttpResponseBadRequest(_("Choose a row to unlock."))
        if sign_in_unlock(attempt_id=attempt_id):
            messages.success(request, _("Unlocked: that account and address can sign in again."))
        else:
            messages.info(request, _("That sign-in was not locked any more."))
        return redirect("accounts:locked-sign-ins")
    return render(
        request,
        "accounts/locked_sign_ins.html",
        {"attempts": sign_in_lockouts()[:200], "limit": settings.AXES_FAILURE_LIMIT},
    )


# A person's data: export and erasure (docs/privacy.md) ----------------------------------------------------------

DATA_EXPORT_LINKS = SignedFileLinks(
    salt="corridor.data-export", view="accounts:data-export-file", max_age_setting="DATA_EXPORT_URL_MAX_AGE"
)


def _is_administrator(user: Any) -> bool:
    return Role.ADMINISTRATOR in user_roles(user)


def _export_for(request: HttpRequest, export_id: int) -> DataExport:
    """The export `export_id`, for its own person or an administrator; anyone else is told it does not exist."""
    export = DataExport.objects.select_related("user").filter(pk=export_id).first()
    if export is None or not (export.user_id == request.user.pk or _is_administrator(request.user)):
        raise Http404
    return export


def _export_file(export: DataExport) -> StoredFile:
    return StoredFile(
        key=export.storage_key,
        content_type="application/zip",
        filename=f"corridor-data-{export.user_id}-{export.created_at:%Y%m%d}.zip",
        attachment=True,
        region=export.storage_region,
    )


@require_POST
@login_required
def data_export_start(request: HttpRequest) -> HttpResponse:
    """ "Download my data" on the Settings page: the archive is prepared in the background; its page follows it."""
    user = request.user
    assert isinstance(user, User)
    export = data_export_request(user=user, by=user)
    return redirect("accounts:data-export", export_id=export.pk)


@never_cache
@login_required
def data_export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    """One export: its progress while it is prepared (the page reloads itself), then its download link."""
    export = _export_for(request, export_id)
    pending = export.state in (DataExportState.QUEUED, DataExportState.RUNNING)
    return render(
        request,
        "accounts/data_export.html",
        {"export": export, "pending": pending, "keep_days": settings.DATA_EXPORT_KEEP_DAYS},
    )


@never_cache
@login_required
def data_export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    """On to a short-lived signed link to the archive (S3 presigned, or the app's own signed view)."""
    export = _export_for(request, export_id)
    if export.state != DataExportState.READY or not export.storage_key:
        raise Http404
    url = DATA_EXPORT_LINKS.url(file=_export_file(export), user=request.user, claims={"export": export.pk})
    return HttpResponseRedirect(url)


@never_cache
@login_required
def data_export_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """The archive from local storage, for a signed link made for this user a moment ago."""
    claims = DATA_EXPORT_LINKS.claims(token=token, user=request.user)
    if claims is None or not isinstance(claims.get("export"), int):
        raise Http404
    export = _export_for(request, claims["export"])
    if export.state != DataExportState.READY or not export.storage_key:
        raise Http404
    return stored_file_response(_export_file(export))


class EraseForm(forms.Form):
    """An administrator erases an account: they type its email address, and say why (the audit log keeps it)."""

    confirmation = forms.CharField(label=gettext_lazy("Type the account's email address to confirm"), max_length=254)
    reason = forms.CharField(
        label=gettext_lazy("Reason (kept in the audit log)"), widget=forms.Textarea(attrs={"rows": 2}), max_length=500
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_confirmation(self) -> str:
        typed = str(self.cleaned_data["confirmation"]).strip()
        if typed.lower() != self.user.email.lower():
            raise forms.ValidationError(_("That is not this account's email address."))
        return typed


class SelfEraseForm(EraseForm):
    """A person erases their own account: their email address and their password."""

    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, max_length=200)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["confirmation"].label = gettext_lazy("Type your email address to confirm")
        self.fields["reason"].required = False
        self.fields["reason"].label = gettext_lazy("Why (optional)")

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That password is not right."))
        return password


@require_POST
@login_required
def account_erase_self(request: HttpRequest) -> HttpResponse:
    """ "Erase my account" on the Settings page: with the password and the email typed out, at once and for good."""
    user = request.user
    assert isinstance(user, User)
    form = SelfEraseForm(request.POST, user=user)
    if not form.is_valid():
        context = {
            "form": MediaSettingsForm(initial={"home_region": user.home_region, "media_region": user.media_region}),
            "may_use_two_step": False,
            "exports": data_exports_of(user=user)[:5],
            "erase_form": form,
        }
        return render(request, "accounts/settings.html", context, status=400)
    user_erase(user=user, by=user, reason=form.cleaned_data["reason"] or _("Asked by the person themselves"))
    auth_logout(request)
    messages.success(request, _("Your account was erased. You have been signed out."))
    return redirect("/")


def _administered_user(request: HttpRequest, user_id: int) -> User:
    _require_administrator(request)
    return get_object_or_404(User, pk=user_id)


@never_cache
@login_required
def user_personal_data(request: HttpRequest, user_id: int) -> HttpResponse:
    """An administrator's page for one account's personal data: its exports, "Export" and "Erase" (linked from
    the Wagtail user list)."""
    subject = _administered_user(request, user_id)
    return render(
        request,
        "accounts/user_data.html",
        {
            "subject": subject,
            "erased": user_is_erased(subject),
            "exports": data_exports_of(user=subject)[:10],
            "erase_form": EraseForm(user=subject),
        },
    )


@require_POST
@login_required
def user_data_export(request: HttpRequest, user_id: int) -> HttpResponse:
    subject = _administered_user(request, user_id)
    admin = request.user
    assert isinstance(admin, User)
    export = data_export_request(user=subject, by=admin)
    return redirect("accounts:data-export", export_id=export.pk)


@require_POST
@login_required
def user_data_erase(request: HttpRequest, user_id: int) -> HttpResponse:
    subject = _administered_user(request, user_id)
    admin = request.user
    assert isinstance(admin, User)
    form = EraseForm(request.POST, user=subject)
    if not form.is_valid():
        context = {
            "subject": subject,
            "erased": user_is_erased(subject),
            "exports": data_exports_of(user=subject)[:10],
            "erase_form": form,
        }
        return render(request, "accounts/user_data.html", context, status=400)
    if subject.pk == admin.pk:
        return HttpResponseBadRequest(_("Erase your own account from your Settings page."))
    user_erase(user=subject, by=admin, reason=form.cleaned_data["reason"])
    messages.success(request, _("The account was erased. It can no longer sign in."))
    return redirect("accounts:user-data", user_id=subject.pk)
