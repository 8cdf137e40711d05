"""The single place settings read the environment from."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer may keep overrides in .env; the environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

REDIS_URL: str = env.str("REDIS_URL", default="")
