"""Production settings pass Django's deployment checklist; development (DEBUG) still serves plain HTTP.

Each check runs `manage.py check --deploy --fail-level WARNING` in a process of its own with the environment an
operations team would give it (DEBUG off, a real SECRET_KEY, the site's host, behind a TLS-terminating proxy).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.support.deploy import check_deploy

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    # What an operations team gives the process, and nothing of the test run's (DJANGO_ALLOW_ASYNC_UNSAFE, ...).
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    env.update(
        DJANGO_SETTINGS_MODULE="lms.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="corridor.example",
        CSRF_TRUSTED_ORIGINS="https://corridor.example",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    env.update(overrides)
    return env


def test_production_settings_pass_the_deployment_checklist() -> None:
    result = check_deploy(production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_turning_hsts_off_fails_the_checklist() -> None:
    result = check_deploy(production_env(SECURE_HSTS_SECONDS="0"))
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_turning_the_https_redirect_and_secure_cookies_off_fails_the_checklist() -> None:
    result = check_deploy(production_env(SECURE_SSL_REDIRECT="false", SESSION_COOKIE_SECURE="false"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W008" in output
    assert "security.W012" in output


PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS, "
    "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE, "
    "'proxy': list(getattr(s, 'SECURE_PROXY_SSL_HEADER', None) or []), 'exempt': s.SECURE_REDIRECT_EXEMPT}))"
)


def settings_under(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_development_serves_plain_http() -> None:
    """`make run` (DEBUG=true) keeps http://127.0.0.1 working: no redirect, no HSTS, cookies over HTTP."""
    config = settings_under(production_env(DEBUG="true", SECURE_PROXY_SSL_HEADER=""))
    assert config["redirect"] is False
    assert config["hsts"] == 0
    assert config["session_secure"] is False
    assert config["csrf_secure"] is False
    assert config["proxy"] == []


def test_production_trusts_the_proxy_header_it_is_told_to() -> None:
    config = settings_under(production_env())
    assert config["redirect"] is True
    assert config["hsts"] >= 365 * 24 * 3600
    assert config["session_secure"] is True
    assert config["csrf_secure"] is True
    assert config["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
