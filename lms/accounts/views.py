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
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import user_has_device

from lms.accounts.models import MediaRegion, Region, User
from lms.accounts.roles import Role, user_roles
from lms.accounts.selectors import sign_in_lockouts
from lms.accounts.services import (
    sign_in_unlock,
    user_media_settings_set,
    user_totp_confirm,
    user_totp_device,
    user_totp_start,
    user_totp_turn_off,
)


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
    context: dict[str, Any] = {"form": form, "may_use_two_step": may_use_two_step(user)}
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
    """Two-step sign-in is offered to administrators (those who can change the whole site)."""
    return Role.ADMINISTRATOR in user_roles(user)


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
