"""Counting SQL statements across threads: a socket join runs its queries on Channels' database thread and on
lms.db_async's pool, each with its own connection, where Django's CaptureQueriesContext (one connection) sees none."""

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from django.db.backends import utils


class Statements:
    """The SQL statements run (on any thread, any connection) while the `counting_queries` block was open."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        return "\n".join(f"{n}. {sql}" for n, sql in enumerate(self.sql, 1))


@contextlib.contextmanager
def counting_queries() -> Iterator[Statements]:
    """Every statement sent through a Django cursor, whichever thread sends it (savepoints included)."""
    seen = Statements()
    # A private method of Django's (5.2), unknown to its type stubs; every execute and executemany goes through it.
    original = getattr(utils.CursorWrapper, "_execute_with_wrappers")  # noqa: B009

    def counted(self: Any, sql: str, params: Any, many: bool, executor: Any) -> Any:
        with seen.lock:
            seen.sql.append(str(sql))
        return original(self, sql, params, many, executor)

    setattr(utils.CursorWrapper, "_execute_with_wrappers", counted)  # noqa: B010
    try:
        yield seen
    finally:
        setattr(utils.CursorWrapper, "_execute_with_wrappers", original)  # noqa: B010
