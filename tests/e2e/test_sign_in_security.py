"""Signing in, in Chromium: a person who keeps typing the wrong password is locked out and told for how long; an
administrator turns two-step sign-in on from their settings page, and their next sign-in asks for the code."""

import re
import time
from base64 import b32decode
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from tests import factories
from tests.support.browser import SignIn

pytestmark = pytest.mark.e2e


def code_from(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app holding `secret` (as the page shows it) displays, `steps_ahead` periods later."""
    totp = TOTP(b32decode(secret.replace(" ", "")))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def type_password(page: Page, login_url: str, email: str, password: str) -> None:
    page.goto(login_url)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()


def test_a_person_who_keeps_typing_the_wrong_password_is_locked_out(
    live_server: Any, new_page: Callable[..., Page], settings: Any, e2e_db: None
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    person = factories.trainee(email="forgetful@corridor.test")
    page = new_page()
    login_url = f"{live_server.url}{reverse('accounts:login')}"
    for _ in range(2):
        type_password(page, login_url, person.email, "not-my-password")
        expect(page.get_by_text("Your email address and password didn't match")).to_be_visible()
    type_password(page, login_url, person.email, "not-my-password")
    expect(page.get_by_role("heading", name="Sign-in locked for now")).to_be_visible()
    expect(page.get_by_text("Try again in 15 minutes.")).to_be_visible()
    # Remembering the password now does not help until the wait is over.
    type_password(page, login_url, person.email, factories.PASSWORD)
    expect(page.get_by_role("heading", name="Sign-in locked for now")).to_be_visible()


def test_an_administrator_turns_on_two_step_sign_in_and_the_next_sign_in_asks_for_the_code(
    live_server: Any, sign_in: SignIn, new_page: Callable[..., Page], e2e_db: None
) -> None:
    admin = factories.administrator(email="root@corridor.test")
    page = sign_in(admin)
    page.goto(f"{live_server.url}{reverse('accounts:settings')}")
    page.get_by_role("button", name="Set up two-step sign-in").click()
    qr = page.get_by_role("img", name="QR code to scan with an authenticator app")
    expect(qr).to_be_visible()
    # The QR code is an image the browser loaded and drew (an SVG of the authenticator's otpauth:// URL).
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle(), timeout=10_000)
    secret = page.locator("[data-two-step-secret]").inner_text()
    assert re.fullmatch(r"[A-Z2-7 ]+", secret)
    page.get_by_label("Code from your authenticator app").fill(code_from(secret))
    page.get_by_role("button", name="Turn two-step sign-in on").click()
    expect(page.get_by_text("Two-step sign-in is on")).to_be_visible()

    later = new_page()
    login_url = f"{live_server.url}{reverse('accounts:login')}?next=/admin/"
    type_password(later, login_url, admin.email, factories.PASSWORD)
    expect(later.get_by_role("heading", name="Enter your code")).to_be_visible()
    later.get_by_label("Code from your authenticator app").fill("000000")
    later.get_by_role("button", name="Sign in").click()
    expect(later.get_by_text("That code is not right")).to_be_visible()
    time.sleep(1.5)  # django-otp makes each try after a wrong code wait a little longer (1 s after the first)
    # The code the app shows next (the one already used to turn it on cannot be used again).
    later.get_by_label("Code from your authenticator app").fill(code_from(secret, steps_ahead=1))
    later.get_by_role("button", name="Sign in").click()
    later.wait_for_url(f"{live_server.url}/admin/")
