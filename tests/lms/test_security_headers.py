"""Security headers on every response: the Content Security Policy, HTTPS behind a proxy, the health checks exempt.

The templates themselves are checked too: a strict policy blocks inline scripts, style attributes and on*
handlers, so none may come back into a template (the browser test, tests/e2e/test_csp.py, visits the pages).
"""

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from tests import factories

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [path for path in ROOT.glob("*/templates") if path.is_dir()] + [
    path for path in ROOT.glob("lms/*/templates") if path.is_dir()
]
STATIC_JS = sorted(ROOT.glob("*/static/**/*.js"))


def policy(response: Any) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {words[0]: words[1:] for words in directives}


@pytest.mark.django_db
def test_pages_carry_a_policy_without_inline_script_or_style(client: Client, catalogue: Any) -> None:
    for path in ("/en/", "/en/accounts/login/", "/certificates/verify/", "/admin/login/"):
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        directives = policy(response)
        # 'report-sample' only adds the start of a blocked script to the browser's report.
        assert directives["script-src"] == ["'self'", "'report-sample'"], path
        assert directives["style-src"] == ["'self'", "'report-sample'"], path
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'self'"]
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_signed_in_admin_carries_the_same_policy(client: Client, catalogue: Any) -> None:
    client.force_login(factories.administrator())
    response = client.get("/admin/")
    assert response.status_code == 200
    assert policy(response)["script-src"] == ["'self'", "'report-sample'"]
    assert policy(response)["style-src"] == ["'self'", "'report-sample'"]
    assert "<script>" not in response.content.decode()


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_plain_http_is_redirected_but_the_proxy_header_and_health_checks_are_not(catalogue: Any) -> None:
    client = Client()
    redirected = client.get("/en/")
    assert redirected.status_code == 301
    assert redirected.headers["Location"].startswith("https://")
    assert Client().get("/en/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert Client().get("/healthz").status_code == 200


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SECURE_HSTS_PRELOAD=True)
def test_hsts_is_sent_over_https(catalogue: Any) -> None:
    response = Client().get("/en/", secure=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def project_templates() -> list[Path]:
    return sorted(path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html"))


def test_the_templates_are_found() -> None:
    names = {path.name for path in project_templates()}
    assert {"base.html", "live_session.html", "timetable.html", "eligibility.html"} <= names


@pytest.mark.parametrize(
    "pattern",
    [INLINE_SCRIPT, STYLE_ATTRIBUTE, EVENT_HANDLER, STYLE_ELEMENT, JAVASCRIPT_URL],
    ids=["inline script", "style attribute", "on* handler", "style element", "javascript: URL"],
)
def test_no_template_needs_unsafe_inline(pattern: re.Pattern[str]) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for path in project_templates()
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


def test_the_checks_catch_what_they_look_for() -> None:
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script id="s" type="application/json">{}</script>')
    assert STYLE_ATTRIBUTE.search('<div style="width: 5%">')
    assert EVENT_HANDLER.search('<select onchange="this.form.submit()">')
    assert not EVENT_HANDLER.search("<p>one= two</p>")


def test_no_script_writes_a_style_attribute() -> None:
    """Scripts may set element.style.x (CSSOM, which the policy allows), never a style attribute or markup with one."""
    pattern = re.compile(r"setAttribute\(\s*[\"']style|\.style\.cssText|style=", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in STATIC_JS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert STATIC_JS
    assert not offenders, offenders
