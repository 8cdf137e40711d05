"""Certificate verification is public: it is throttled per address (a clear 429) and cached (a second look at a
code reads nothing from the database), and revoking a certificate is seen at once."""

import secrets
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates import services
from certificates.models import Certificate
from tests.support.certificates import course_with_rule

pytestmark = pytest.mark.django_db


def _issued() -> tuple[Any, Certificate]:
    setup = course_with_rule()
    return setup, services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)


def page_url(code: str) -> str:
    return reverse("certificates:verify", args=[code])


def json_url(code: str) -> str:
    return reverse("verify:json", args=[code])


@pytest.mark.parametrize("url_for", [page_url, json_url], ids=["page", "json"])
def test_a_second_look_at_a_code_reads_nothing_from_the_database(url_for) -> None:
    _setup, certificate = _issued()
    url = url_for(certificate.code)
    first = Client().get(url, REMOTE_ADDR="198.51.100.10")
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = Client().get(url, REMOTE_ADDR="198.51.100.10")
    assert again.status_code == 200
    assert again.content == first.content
    # (The page's frame may look up the Wagtail site for its menu; the verification reads nothing.)
    assert [q["sql"] for q in queries.captured_queries if "certificates_" in q["sql"]] == []
    if url_for is json_url:
        assert queries.captured_queries == []


def test_an_unknown_code_is_cached_too() -> None:
    code = "CRD-ZZZZ-ZZZZ"
    assert Client().get(json_url(code)).status_code == 404
    with CaptureQueriesContext(connection) as queries:
        assert Client().get(json_url(code)).status_code == 404
    # (Wagtail's redirects middleware looks up every 404's path; the verification itself reads nothing.)
    assert [q["sql"] for q in queries.captured_queries if "certificates_" in q["sql"]] == []


def test_revoking_is_seen_at_once_on_the_page_and_in_json() -> None:
    setup, certificate = _issued()
    for language in ("en", "zh-hans"):
        assert Client().get(f"/{language}/certificates/verify/{certificate.code}/").status_code == 200
    assert Client().get(json_url(certificate.code)).json()["status"] == "valid"
    admin = Client()
    admin.force_login(setup.admin)
    revoked = admin.post(reverse("certificates:revoke", args=[certificate.code]), {"reason": "Exam misconduct."})
    assert revoked.status_code == 302
    assert Client().get(json_url(certificate.code)).json()["status"] == "revoked"
    for language in ("en", "zh-hans"):
        html = Client().get(f"/{language}/certificates/verify/{certificate.code}/").content.decode()
        assert 'data-status="revoked"' in html and "Exam misconduct." in html


@pytest.mark.parametrize(
    ("method", "url_for", "kind"),
    [
        ("get", page_url, "html"),
        ("get", json_url, "json"),
        ("post", lambda code: reverse("verify:credential"), "json"),
    ],
    ids=["page", "json", "credential"],
)
def test_verification_is_throttled_per_address_with_a_clear_429(settings, method, url_for, kind) -> None:
    settings.CERTIFICATE_VERIFY_RATE = 3
    url = url_for("CRD-ABCD-EFGH")
    client = Client()
    # Addresses of this test alone: the count lives in the cache (shared Redis included) for the minute.
    here, elsewhere = (f"2001:db8::{secrets.token_hex(2)}:{n}" for n in (1, 2))

    def ask(address: str):
        if method == "post":
            return client.post(url, "{}", content_type="application/json", REMOTE_ADDR=address)
        return client.get(url, REMOTE_ADDR=address)

    answers = [ask(here).status_code for _ in range(3)]
    assert 429 not in answers
    refused = ask(here)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    if kind == "json":
        assert refused.json()["error"]["code"] == "throttled"
    else:
        page = refused.content.decode()
        assert "Too many requests from your address" in page and 'data-error-code="throttled"' in page
    # Another address is not held back by this one.
    assert ask(elsewhere).status_code != 429
