"""The one table of websocket close codes the application sends (4000-4999 are the application's).

Every socket (live session, media, room device) closes with these; docs/live-protocol.md lists when.
A client tells "go away" (4400-4499, `is_refusal`: retrying as is cannot help) from "try again"
(anything else). Standard library only: pages get the table as JSON (`{% close_codes %}`).
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    SILENT = 4000  # nothing received from the client for too long: reconnect
    UNAUTHENTICATED = 4401  # not signed in, or no valid device token
    FORBIDDEN = 4403  # signed in, but not allowed here (not a participant, another room's token)
    NOT_FOUND = 4404  # no such session
    SIGNED_OUT = 4408  # signed out, or no longer a participant after a role change
    FLOODED = 4429  # far more messages than the socket's rate limit allows, or too many sockets for one person


REFUSAL_FIRST, REFUSAL_LAST = 4400, 4499


def is_refusal(code: int | None) -> bool:
    """Whether a socket closed with `code` should stay closed: reconnecting will not help."""
    return code is not None and REFUSAL_FIRST <= code <= REFUSAL_LAST


def close_codes_table() -> dict[str, int]:
    """The table by name, for pages' scripts."""
    return {code.name: code.value for code in CloseCode}
