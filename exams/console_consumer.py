"""The invigilator's console socket: `/ws/exams/sittings/<id>/console/`.

Push only. On connect, and whenever the sitting changes (`exams.live.sitting_group`: check-in, start, saves,
disconnections, submissions, pauses, extra time, incidents), it sends the whole console state as one frame:
`{"type": "console", "rows": [...], "counts": {...}, "log": [...], "server_time": iso}`.
Changes that arrive while a state is being read are folded into one more read, so a burst of saves costs a few
reads, not one per save.

Who: the exam room's invigilators and administrators. A visitor is closed with 4401, anyone else with 4403, an
unknown sitting with 4404. Frames the client sends are answered with an `unknown_type` error (there are none)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from exams import selectors
from exams.invigilation_selectors import console_state
from exams.live import sitting_group
from exams.models import Sitting
from lms.close_codes import CloseCode
from lms.errors import CorridorError
from lms.socket_frames import FrameRateLimit, error_frame, handler_for, parse_json_frame

MAX_MESSAGE_BYTES = 1024
MESSAGES_PER_SECOND = 5
HANDLERS: dict[str, Any] = {}


def _allowed_sitting(sitting_id: int, user: Any) -> tuple[Sitting | None, bool]:
    sitting = Sitting.objects.select_related("exam", "room").filter(pk=sitting_id).first()
    if sitting is None:
        return None, False
    return sitting, selectors.user_invigilates(user=user, room=sitting.room)


def _state(sitting_id: int, user: Any) -> dict[str, Any] | None:
    """The console's frame, or None when the person no longer runs the sitting (taken off the room, or the sitting
    deleted): checked again on every push."""
    sitting = Sitting.objects.select_related("exam", "room").filter(pk=sitting_id).first()
    if sitting is None or not selectors.user_invigilates(user=user, room=sitting.room):
        return None
    now = timezone.now()
    return {"type": "console", **console_state(sitting=sitting, now=now), "server_time": now.isoformat()}


class SittingConsoleConsumer(AsyncWebsocketConsumer):
    sitting_id = 0
    group = ""
    language = "en"
    user: Any = None
    refresh: asyncio.Future[None] | None = None

    async def connect(self) -> None:
        # Accept first, as the other sockets do: the page gets a close code and a reason, not a bare HTTP 403.
        await self.accept()
        user = self.scope.get("user")
        self.language = getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE
        self.rate_limit = FrameRateLimit(MESSAGES_PER_SECOND)
        self.dirty = False
        with translation.override(self.language):
            if user is None or not user.is_authenticated:
                await self._refuse(CloseCode.UNAUTHENTICATED, "unauthenticated", _("Sign in to run this sitting."))
                return
            try:
                sitting_id = int(self.scope["url_route"]["kwargs"]["sitting_id"])
            except (KeyError, ValueError):
                sitting_id = 0
            sitting, allowed = await database_sync_to_async(_allowed_sitting)(sitting_id, user)
            if sitting is None:
                await self._refuse(CloseCode.NOT_FOUND, "sitting_not_found", _("That sitting does not exist."))
                return
            if not allowed:
                message = _("Only this exam room's invigilators and administrators run its sittings.")
                await self._refuse(CloseCode.FORBIDDEN, "forbidden", message)
                return
        self.sitting_id, self.user = sitting.pk, user
        self.group = sitting_group(sitting.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_state()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = ""
        if self.refresh is not None and not self.refresh.done():
            self.refresh.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.group:
            return
        ref: Any = None
        with translation.override(self.language):
            try:
                self.rate_limit.spend()
                message = parse_json_frame(text_data, max_bytes=MAX_MESSAGE_BYTES, too_large=_("Message too large."))
                ref = message.get("ref")
                handler_for(HANDLERS, message)
            except CorridorError as error:
                await self._send(error_frame(error.code, str(error.message), ref))
                if error.code == "flooded":
                    await self.close(code=CloseCode.FLOODED, reason="flooded")

    async def exam_sitting_changed(self, message: dict[str, Any]) -> None:
        """Something of the sitting changed (exams.live.papers_changed_on_commit): send the state afresh. A read
        runs in its own task; changes that arrive meanwhile mark it dirty and are folded into one more read."""
        self.dirty = True
        if self.refresh is None or self.refresh.done():
            self.refresh = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        while self.dirty and self.group:
            self.dirty = False
            await self._send_state()

    async def _send_state(self) -> None:
        with translation.override(self.language):
            state = await database_sync_to_async(_state)(self.sitting_id, self.user)
            if state is None:
                await self._refuse(CloseCode.FORBIDDEN, "forbidden", _("You no longer run this sitting."))
                return
        await self._send(state)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def _refuse(self, code: int, error: str, message: str) -> None:
        await self._send({"type": "error", "code": error, "message": message})
        await self.close(code=code, reason=error)
