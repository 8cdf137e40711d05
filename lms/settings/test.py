"""Test settings: the same environment-driven settings, with a fast password hasher."""

import base64
import os
import secrets
import tempfile
from pathlib import Path

# Under pytest-xdist each worker has its own test database (Django adds the worker's suffix); on a shared Redis
# it also needs its own channel-layer prefix, Celery queue and cache keys, or one worker's session 1 would hear
# another's. Set in the environment before the settings read it, so the servers and workers a test starts
# (they copy the environment) share them.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER:
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"corridor-test-{_XDIST_WORKER}")
    os.environ.setdefault("CELERY_QUEUE", f"corridor-test-{_XDIST_WORKER}")
    # Files are named by ids, which the workers' databases repeat: each worker keeps its own.
    _WORKER_FILES = Path(tempfile.gettempdir()) / f"corridor-test-{_XDIST_WORKER}"
    os.environ.setdefault("MEDIA_ROOT", str(_WORKER_FILES / "media"))
    os.environ.setdefault("RECORDINGS_DIR", str(_WORKER_FILES / "recordings"))

from lms.settings import *  # noqa: E402, F403
from lms.settings import CACHES, DATABASES  # noqa: E402

if _XDIST_WORKER:
    CACHES["default"]["KEY_PREFIX"] = _XDIST_WORKER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Wagtail's background tasks (search index, reference index) run at once in tests.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A test database in a file, not in memory: the browser tests of live sessions run the ASGI
    # server (daphne) in a process of its own, which must see the same database. One file per
    # test run (pytest-xdist adds a suffix per worker); Django deletes it afterwards. Skipping
    # fsync keeps the suite as fast as in memory (measured: tests/courses takes the same time).
    DATABASES["default"]["TEST"] = {
        **DATABASES["default"].get("TEST", {}),
        "NAME": str(Path(tempfile.gettempdir()) / f"corridor-test-{os.getpid()}.sqlite3"),
    }
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA synchronous=OFF"

# A fresh issuer key per test run (a base64 Ed25519 seed), in the environment so that the server and worker
# processes the tests start sign with the same key (never a key from the repository).
CERTIFICATE_SIGNING_KEY = os.environ.setdefault(
    "CERTIFICATE_SIGNING_KEY", base64.b64encode(secrets.token_bytes(32)).decode("ascii")
)

# Long tasks run inline without a broker, as every other task does here: tests check their results at once.
CELERY_LONG_TASKS_IN_THREAD = False

# The test client, the live servers and the browsers speak plain HTTP, as `make run` does; the production defaults
# (HTTPS redirect, HSTS, Secure cookies) are checked by tests/lms/test_deploy_settings.py under lms.settings.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Verification is throttled per address; the suite asks from one address far more often than a person would. The
# throttle's own tests set a small limit (and addresses of their own).
CERTIFICATE_VERIFY_RATE = 100_000
# Likewise supervisors' requests for a sign-in link (tests/internships/test_placements.py checks the limit).
INTERNSHIP_SIGN_IN_RATE = 100_000
