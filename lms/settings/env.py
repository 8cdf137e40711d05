"""The single place settings read the environment from.

An empty variable means "not set", for every setting: `DATABASE_URL=` gives the embedded default,
as if DATABASE_URL were absent (a shell or a CI file often leaves a variable empty rather than out).
"""

import os
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
