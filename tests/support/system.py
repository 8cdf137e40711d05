"""The system packages some tests drive (Debian's Chromium, coturn), found in one place.

`make test` needs none of them: a test that needs a missing one is skipped with one line naming
the command that adds it (`make system-packages`, which runs apt-get as root or through sudo).
"""

import shutil
from pathlib import Path

import pytest

ADD_THEM = "`make system-packages`"
CHROMIUM = Path("/usr/bin/chromium")
TURNSERVER = Path("/usr/bin/turnserver")


def _found(expected: Path) -> str | None:
    if expected.is_file():
        return str(expected)
    return shutil.which(expected.name)


def chromium_or_skip() -> str:
    """Debian's Chromium (Playwright drives it rather than downloading a browser of its own)."""
    found = _found(CHROMIUM)
    if found is None:
        pytest.skip(f"Chromium not found at {CHROMIUM}: {ADD_THEM} (apt-get install chromium) adds it")
    return found


def turnserver_or_skip() -> str:
    """coturn's `turnserver`, for the TURN relay tests."""
    found = _found(TURNSERVER)
    if found is None:
        pytest.skip(f"coturn not found at {TURNSERVER}: {ADD_THEM} (apt-get install coturn) adds it")
    return found
