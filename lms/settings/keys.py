"""Secrets come from the environment: none has a default a deployment could run with by mistake.

Outside DEBUG a missing or weak SECRET_KEY stops start-up with ImproperlyConfigured, naming the variable and how
to make one. Under DEBUG (`make run`, a developer's machine) an unset key is made once and kept in var/, so
sessions survive a restart and no key is ever shared between machines through the repository."""

import os
import secrets
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Django's own check (security.W009) wants at least 50 characters and 5 distinct ones.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5
HOW_TO_MAKE_ONE = (
    'Make one with `python -c "import secrets; print(secrets.token_urlsafe(64))"` and set it in the environment '
    "(or in .env), the same on every app process of the deployment."
)
# Keys that once shipped as defaults or in examples: refused even when long enough.
KNOWN_KEYS = frozenset({"corridor-insecure-development-key-change-me"})


def secret_key_problem(value: str) -> str | None:
    """Why `value` cannot be a production SECRET_KEY, or None when it can."""
    if not value:
        return "SECRET_KEY is not set"
    if value in KNOWN_KEYS or value.startswith("django-insecure"):
        return "SECRET_KEY is a published development key"
    if len(value) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY is {len(value)} characters long: it must have at least {SECRET_KEY_MIN_LENGTH}"
    if len(set(value)) < SECRET_KEY_MIN_DISTINCT:
        return f"SECRET_KEY has fewer than {SECRET_KEY_MIN_DISTINCT} distinct characters"
    return None


def secret_key(value: str, *, debug: bool, key_file: Path) -> str:
    """The SECRET_KEY to use: `value` when it is strong; under DEBUG only, a per-machine key kept in `key_file`."""
    if value and (debug or secret_key_problem(value) is None):
        return value
    if not debug:
        problem = secret_key_problem(value)
        raise ImproperlyConfigured(f"{problem} (outside DEBUG there is no default). {HOW_TO_MAKE_ONE}")
    return _development_key(key_file)


def _development_key(key_file: Path) -> str:
    # Several processes start at once under `make run`: the first creates the file, the others read it.
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = key_file.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise ImproperlyConfigured(f"{key_file} is empty: delete it and start again.") from None
    key = secrets.token_urlsafe(64)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
