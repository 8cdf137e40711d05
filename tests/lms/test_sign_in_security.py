"""Signing in: failed attempts are throttled per account and per address (site and admin alike), administrators
unlock them, administrators can turn on TOTP, and passwords are checked for similarity and digits only."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/en/accounts/login/"
SETTINGS = "/en/accounts/settings/"


@pytest.fixture(autouse=True)
def _three_failures(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3


def sign_in(client: Client, email: str, password: str, address: str = "203.0.113.5", path: str = LOGIN):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=address)


def current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def test_an_account_is_locked_after_the_limit_from_any_address_and_the_page_says_for_how_long(client: Client) -> None:
    person = factories.trainee(email="mei@corridor.test")
    for n in range(3):
        refused = sign_in(client, person.email, "wrong", address=f"198.51.100.{n}")
    assert refused.status_code == 429
    # Even the right password, from yet another address, is refused while the lock lasts.
    locked = sign_in(client, person.email, factories.PASSWORD, address="198.51.100.200")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in locked for now" in page
    assert "Try again in 15 minutes." in page
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_after_the_limit_whatever_accounts_it_tries(client: Client) -> None:
    people = [factories.trainee() for _ in range(3)]
    for person in people:
        sign_in(client, person.email, "wrong", address="192.0.2.7")
    other = factories.trainee()
    assert sign_in(client, other.email, factories.PASSWORD, address="192.0.2.7").status_code == 429
    # The same account from another address is fine: it has no failures of its own.
    assert sign_in(client, other.email, factories.PASSWORD, address="192.0.2.8").status_code == 302


def test_the_locked_out_page_is_in_chinese_too(client: Client) -> None:
    person = factories.trainee()
    for _ in range(3):
        sign_in(client, person.email, "wrong", path="/zh-hans/accounts/login/")
    locked = sign_in(client, person.email, factories.PASSWORD, path="/zh-hans/accounts/login/")
    assert locked.status_code == 429
    assert '<html lang="zh-hans"' in locked.content.decode()


def test_a_success_before_the_limit_clears_the_failures(client: Client) -> None:
    person = factories.trainee()
    for _ in range(2):
        sign_in(client, person.email, "wrong")
    assert sign_in(client, person.email, factories.PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        sign_in(client, person.email, "wrong")
    assert sign_in(client, person.email, factories.PASSWORD).status_code == 302


def test_the_admin_sign_in_leads_to_the_throttled_one(client: Client) -> None:
    to_admin_login = client.get("/admin/")["Location"]
    assert to_admin_login.startswith("/admin/login/?next=/admin/")
    assert client.get(to_admin_login)["Location"] == "/en/accounts/login/?next=%2Fadmin%2F"
    posted = client.post("/admin/login/", {"username": "x@corridor.test", "password": "y"})
    assert posted.status_code == 302 and posted["Location"].startswith("/en/accounts/login/")
    instructor = factories.instructor()
    for _ in range(3):
        sign_in(client, instructor.email, "wrong", path=f"{LOGIN}?next=/admin/")
    assert sign_in(client, instructor.email, factories.PASSWORD, path=f"{LOGIN}?next=/admin/").status_code == 429


def test_an_administrator_unlocks_an_account_from_the_locked_sign_ins_page(client: Client) -> None:
    person = factories.trainee(email="locked@corridor.test")
    for _ in range(3):
        sign_in(client, person.email, "wrong")
    admin = factories.administrator()
    staff = Client()
    staff.force_login(admin)
    assert "/en/accounts/locked/" in staff.get("/admin/").content.decode()  # the admin menu links to it
    listing = staff.get("/en/accounts/locked/").content.decode()
    assert 'data-locked-account="locked@corridor.test"' in listing
    row = AccessAttempt.objects.get(username=person.email)
    unlocked = staff.post("/en/accounts/locked/", {"attempt": row.pk}, follow=True)
    assert "Unlocked" in unlocked.content.decode()
    assert not AccessAttempt.objects.filter(username=person.email).exists()
    assert sign_in(client, person.email, factories.PASSWORD).status_code == 302


@pytest.mark.parametrize("make", [factories.trainee, factories.instructor, factories.operator])
def test_only_administrators_see_or_unlock_locked_sign_ins(client: Client, make) -> None:
    victim = factories.trainee()
    for _ in range(3):
        sign_in(Client(), victim.email, "wrong")
    client.force_login(make())
    assert client.get("/en/accounts/locked/").status_code == 403
    row = AccessAttempt.objects.get(username=victim.email)
    assert client.post("/en/accounts/locked/", {"attempt": row.pk}).status_code == 403
    assert AccessAttempt.objects.filter(username=victim.email).exists()


@pytest.mark.parametrize("attempt", ["", "x", "99999999"])
def test_unlocking_nothing_is_answered_plainly(client: Client, attempt: str) -> None:
    client.force_login(factories.administrator())
    response = client.post("/en/accounts/locked/", {"attempt": attempt})
    assert response.status_code in {302, 400}


@pytest.mark.parametrize(
    ("password", "refused_because"),
    [
        ("48213975306", "entirely numeric"),
        ("mei.tanaka.corridor", "too similar"),
        ("short", "too short"),
        ("password123", "too common"),
    ],
)
def test_password_rules(password: str, refused_because: str) -> None:
    person = factories.trainee(email="mei.tanaka@corridor.test", first_name="Mei", last_name="Tanaka")
    with pytest.raises(ValidationError, match=refused_because):
        validate_password(password, user=person)
    validate_password("blue kettles hum at dawn", user=person)


# TOTP --------------------------------------------------------------------------------------------------------


def turn_on(client: Client) -> TOTPDevice:
    client.post("/en/accounts/settings/two-step/")
    page = client.get(SETTINGS).content.decode()
    secret = re.search(r"data-two-step-secret>([A-Z2-7 ]+)<", page)
    assert secret is not None
    device = TOTPDevice.objects.get(confirmed=False)
    confirmed = client.post("/en/accounts/settings/two-step/confirm/", {"code": current_code(device), "next": SETTINGS})
    assert confirmed.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_an_administrator_turns_on_totp_and_the_next_sign_in_asks_for_the_code(client: Client) -> None:
    admin = factories.administrator()
    client.force_login(admin)
    page = client.get(SETTINGS).content.decode()
    assert "Set up two-step sign-in" in page
    client.post("/en/accounts/settings/two-step/")
    qr = client.get("/en/accounts/settings/two-step/qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    # A wrong code is refused and leaves it off.
    wrong = client.post("/en/accounts/settings/two-step/confirm/", {"code": "000000", "next": SETTINGS}, follow=True)
    assert "That code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    device = TOTPDevice.objects.get(user=admin)
    assert client.post("/en/accounts/settings/two-step/confirm/", {"code": current_code(device)}).status_code == 302
    assert 'data-two-step-state="on"' in client.get(SETTINGS).content.decode()
    # Once confirmed, its QR code is never shown again.
    assert client.get("/en/accounts/settings/two-step/qr.svg").status_code == 404
    client.logout()

    fresh = Client()
    after_password = sign_in(fresh, admin.email, factories.PASSWORD)
    assert after_password["Location"] == "/en/accounts/login/code/"
    assert "_auth_user_id" not in fresh.session
    wrong = fresh.post("/en/accounts/login/code/", {"code": "123456"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    assert "_auth_user_id" not in fresh.session
    device.refresh_from_db()
    device.throttling_failure_count = 0  # django-otp's own backoff after the wrong code; the next is a new minute
    device.last_t = -1
    device.save()
    signed_in = fresh.post("/en/accounts/login/code/", {"code": current_code(device)})
    assert signed_in.status_code == 302
    assert fresh.session["_auth_user_id"] == str(admin.pk)
    assert fresh.get("/admin/").status_code == 200


def test_the_code_page_without_a_password_first_leads_back_to_sign_in(client: Client) -> None:
    assert client.get("/en/accounts/login/code/")["Location"] == LOGIN
    assert client.post("/en/accounts/login/code/", {"code": "123456"})["Location"] == LOGIN


def test_too_many_wrong_codes_start_the_sign_in_again(client: Client, settings) -> None:
    settings.LOGIN_CODE_ATTEMPTS = 2
    admin = factories.administrator()
    client.force_login(admin)
    turn_on(client)
    client.logout()
    sign_in(client, admin.email, factories.PASSWORD)
    client.post("/en/accounts/login/code/", {"code": "111111"})
    again = client.post("/en/accounts/login/code/", {"code": "222222"})
    assert again["Location"] == LOGIN
    assert client.get("/en/accounts/login/code/")["Location"] == LOGIN


def test_turning_totp_off_needs_the_password_and_a_code(client: Client) -> None:
    admin = factories.administrator()
    client.force_login(admin)
    device = turn_on(client)
    no_password = client.post(
        "/en/accounts/settings/two-step/off/", {"password": "wrong", "code": current_code(device), "next": SETTINGS}
    )
    assert no_password.status_code == 303
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    no_code = client.post(
        "/en/accounts/settings/two-step/off/", {"password": factories.PASSWORD, "code": "", "next": SETTINGS}
    )
    assert no_code.status_code == 303
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    device.refresh_from_db()
    device.throttling_failure_count, device.last_t = 0, -1
    device.save()
    off = client.post(
        "/en/accounts/settings/two-step/off/", {"password": factories.PASSWORD, "code": current_code(device)}
    )
    assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user=admin).exists()
    client.logout()
    assert sign_in(client, admin.email, factories.PASSWORD)["Location"] != "/en/accounts/login/code/"


@pytest.mark.parametrize("make", [factories.trainee, factories.instructor, factories.operator])
def test_two_step_is_for_administrators(client: Client, make) -> None:
    client.force_login(make())
    assert "two-step" not in client.get(SETTINGS).content.decode()
    assert client.post("/en/accounts/settings/two-step/").status_code == 404
    assert not TOTPDevice.objects.exists()
