"""Test settings: the same environment-driven settings, with a fast password hasher."""

from lms.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Wagtail's background tasks (search index, reference index) run at once in tests.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
