"""The single place settings read the environment from.

An empty variable means "not set", for every setting: `DATABASE_URL=` gives the embedded default,
as if DATABASE_URL were absent (a shell or a CI file often leaves a variable empty rather than out).
"""

import os
import secrets
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"


class NonEmptyEnviron(MutableMapping[str, str]):
    """The process environment without its empty variables (writes go through to it)."""

    def __getitem__(self, name: str) -> str:
        value = os.environ[name]
        if not value:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        os.environ[name] = value

    def __delitem__(self, name: str) -> None:
        del os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name, value in os.environ.items() if value)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Env(environ.Env):
    ENVIRON = NonEmptyEnviron()


env = Env()
# A developer may keep overrides in .env; the environment always wins (unless it is empty there).
Env.read_env(BASE_DIR / ".env", overwrite=False)

REDIS_URL: str = env.str("REDIS_URL", default="")

if os.environ.get("DJANGO_SETTINGS_MODULE") == "lms.settings.test" and not os.environ.get("SECRET_KEY"):
    # The test settings run without DEBUG, where there is no default SECRET_KEY (lms/settings/keys.py): a fresh
    # one per test run. Here, not in test.py, because the package (and so base.py) loads before test.py does; in
    # the environment, so that the servers and workers a test starts share it.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(64)
