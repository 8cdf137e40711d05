"""What each app holds about a person, as one table: how to export it and how to erase it.

The shared core (`lms.accounts`) cannot import the apps above it, yet exporting or erasing a person touches them
all. So each app registers its part here in its `AppConfig.ready` (as each registers its metrics collector), with
functions from its own services and selectors, and `lms.accounts.services` (`user_export_build`, `user_erase`) runs
every registered part from one place. docs/privacy.md lists the parts and what erasing does to each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal

ERASED_NAME = "Erased user"


@dataclass(frozen=True)
class ErasedPerson:
    """The person being erased, as they were: what to look for (their email and names) and what to put instead."""

    user: Any
    email: str
    names: tuple[str, ...]
    placeholder: str

    def scrub(self, value: Any) -> Any:
        """`value` (text, or JSON: dicts and lists of them) with every mention of the person replaced by the
        placeholder; anything else unchanged."""
        if isinstance(value, str):
            return self._pattern.sub(self.placeholder, value) if self._pattern is not None else value
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value

    def mentions(self, value: Any) -> bool:
        return self.scrub(value) != value

    @property
    def _pattern(self) -> re.Pattern[str] | None:
        # Longest first, so a full name is replaced whole rather than as its first name plus a stray surname.
        words = sorted({w.strip() for w in (self.email, *self.names) if len(w.strip()) >= 2}, key=len, reverse=True)
        if not words:
            return None
        return re.compile("|".join(_whole(word) for word in words), re.IGNORECASE)


def _whole(word: str) -> str:
    """`word` as a pattern that matches it whole among Latin letters and digits ("Tan", not the "tan" of "Standard");
    a name in Chinese characters matches anywhere, since Chinese text has no spaces between words."""
    ascii_alnum = "A-Za-z0-9"
    before = f"(?<![{ascii_alnum}])" if word[0].isascii() and word[0].isalnum() else ""
    after = f"(?![{ascii_alnum}])" if word[-1].isascii() and word[-1].isalnum() else ""
    return f"{before}{re.escape(word)}{after}"


@dataclass(frozen=True)
class ExportFile:
    """A stored file that goes into the archive: its key in its region's storage, and its path in the archive."""

    key: str
    path: str
    region: str = ""  # the storage region its bytes are in (lms/regions.py); "" the default storage


@dataclass(frozen=True)
class PersonalDataPart:
    """One app's share of what is held about a person.

    `export(user)` returns the JSON-ready records under `data.json`'s key `name`; `files(user)` the stored files
    that go into the archive beside it; `erase(person)` removes or anonymises them and returns counts of what it
    changed (for the audit entry). `describe` says, for docs and the archive's README, what the part holds.
    """

    name: str
    describe: str
    export: Callable[[Any], dict[str, Any]]
    erase: Callable[[ErasedPerson], dict[str, int]]
    files: Callable[[Any], list[ExportFile]] = field(default=lambda user: [])


_parts: dict[str, PersonalDataPart] = {}


def register_personal_data(part: PersonalDataPart) -> None:
    """Add (or replace, when an app is loaded again) one app's part."""
    _parts[part.name] = part


def personal_data_parts() -> list[PersonalDataPart]:
    return list(_parts.values())


# Sent once a person is erased (after every part ran, in the same transaction): the audit log (classrooms) records
# it. Arguments: `user` (now the placeholder), `by` (who erased: an administrator, or the person), `reason`,
# `counts` ({part: {what: how many}}).
user_erased = Signal()
