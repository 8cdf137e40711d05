"""Where the live hub is built, with everything it calls on the Django side: one module, not the first consumer.

One hub per event loop (each server process has its own; each test its own loop), built on first use
from the channel layer and `LIVE_HUB_HOOKS`. A test wanting another hub builds its own `LiveHub`.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from classrooms.fanout import LiveHub, LiveHubHooks
from classrooms.metrics import FANOUT_SECONDS, LIVE_JOINS
from classrooms.models import LiveSession
from classrooms.selectors import sessions as session_selectors
from classrooms.selectors.participants import session_participants
from classrooms.services import attendance, qa
from lms.db_async import database_parallel


async def _announce_votes(session_id: int, question_ids: list[int]) -> None:
    await database_sync_to_async(qa.question_votes_announce)(session_id=session_id, question_ids=question_ids)


async def _apply_votes(session_id: int, votes: list[qa.VoteRequest]) -> list[qa.VoteOutcome | Exception]:
    outcomes = await database_sync_to_async(qa.question_votes_apply)(session_id=session_id, votes=votes)
    return list(outcomes)


async def _start_presence(session_id: int, user_ids: list[int]) -> list[bool | Exception]:
    changed = await database_parallel(attendance.remote_presence_start_many)(session_id=session_id, user_ids=user_ids)
    return list(changed)


async def _announce_attendance(session_id: int, _items: list[int]) -> None:
    await database_sync_to_async(attendance.presence_announce)(session_id=session_id)


async def _read_roles(session_id: int, user_ids: list[int]) -> dict[int, Any]:
    parts = await database_sync_to_async(session_participants)(session_id=session_id, user_ids=user_ids)
    return dict(parts)


async def _report_presence(session_id: int, user_ids: list[int]) -> None:
    await database_sync_to_async(attendance.remote_presence_seen)(session_id=session_id, user_ids=user_ids)


@database_sync_to_async
def _read_missed(session_id: int, after_id: int) -> tuple[str, str] | None:
    """The `synced` frames (moderators', everyone else's) with the session's events after `after_id`, as `sync`
    answers them; None when there are more than a sync would send (the sockets start again from a welcome)."""
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None:
        return None
    frames = []
    limit = session_selectors.SYNC_LIMIT
    for moderators in (True, False):
        events = session_selectors.events_since(
            session=session, after_id=after_id, include_moderator_events=moderators, limit=limit + 1
        )
        if len(events) > limit:
            return None
        synced = {"type": "synced", "events": [{"type": e.kind, "event_id": e.pk, "data": e.payload} for e in events]}
        frames.append(json.dumps(synced, ensure_ascii=False))
    return frames[0], frames[1]


LIVE_HUB_HOOKS = LiveHubHooks(
    announce_votes=_announce_votes,
    announce_attendance=_announce_attendance,
    report_presence=_report_presence,
    read_roles=_read_roles,
    apply_votes=_apply_votes,
    start_presence=_start_presence,
    read_missed=_read_missed,
    joined=LIVE_JOINS.inc,
    delivered=FANOUT_SECONDS.observe,
)

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveHub] = weakref.WeakKeyDictionary()


def hub() -> LiveHub:
    """This process's hub (one per event loop), built with its hooks the first time it is asked for."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = LiveHub(get_channel_layer(), hooks=LIVE_HUB_HOOKS)
    return found


def live_hubs() -> list[LiveHub]:
    """Every live hub of this process (one per event loop that has one), for the metrics collector."""
    try:
        return list(_hubs.values())
    except RuntimeError:  # a loop's hub was added or collected while this thread read the table
        return []
