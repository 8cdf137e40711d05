"""The candidate's exam page socket: `/ws/exams/papers/<paper_id>/`.

It carries no answers (those go by HTTP, queued in the page until acknowledged): it tells the page at once when its
paper changed (an invigilator paused it, resumed it, gave extra time, submitted it; time-up), so the page re-reads
its state; and it keeps the paper's presence for the invigilator's console (connected, last heard from: a heartbeat
every HEARTBEAT_SECONDS). Only the paper's candidate gets in (4401 for a visitor, 4404 for any other paper); every
message checks again that the paper is still theirs.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from exams import attempt_selectors, attempts
from exams.attempts import PageEvent
from exams.live import paper_group
from lms.close_codes import CloseCode
from lms.errors import CorridorError
from lms.socket_frames import FrameRateLimit, NoFields, Route, error_frame, handler_for, parse_json_frame, with_ref

MAX_MESSAGE_BYTES = 1024
MESSAGES_PER_SECOND = 5
HEARTBEAT_SECONDS = 15
# What the page itself did (or the console's own news): the page already knows, and re-reading would only add load.
NOT_FOR_THE_PAGE = {"saved", "connected", "disconnected", "started"}


def _owns(user: Any, paper_id: int) -> bool:
    return attempt_selectors.paper_of(paper_id=paper_id, user=user) is not None


class ExamPaperConsumer(AsyncWebsocketConsumer):
    paper_id = 0
    joined = False

    async def connect(self) -> None:
        # Accept first, as the other sockets do: the page gets a close code, not a bare HTTP 403.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CloseCode.UNAUTHENTICATED, "unauthenticated", _("Sign in to take your exam."))
            return
        paper_id = int(self.scope["url_route"]["kwargs"]["paper_id"])
        if not await database_sync_to_async(_owns)(user, paper_id):
            await self._refuse(CloseCode.NOT_FOUND, "not_found", _("There is no such paper."))
            return
        self.paper_id, self.joined = paper_id, True
        self.rate_limit = FrameRateLimit(MESSAGES_PER_SECOND)
        await self.channel_layer.group_add(paper_group(paper_id), self.channel_name)
        await database_sync_to_async(attempts.paper_presence)(paper_id=paper_id, event=PageEvent.OPENED)
        await self.send(text_data=json.dumps({"type": "welcome", "heartbeat": HEARTBEAT_SECONDS}))

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        """An error frame saying why, then the close code (the page stops reconnecting: 44xx is a refusal)."""
        await self.send(text_data=json.dumps(error_frame(error_code, message, None)))
        await self.close(code=code, reason=error_code)

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.joined = False
            await self.channel_layer.group_discard(paper_group(self.paper_id), self.channel_name)
            await database_sync_to_async(attempts.paper_presence)(paper_id=self.paper_id, event=PageEvent.CLOSED)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:
            return
        ref: Any = None
        try:
            self.rate_limit.spend()
            message = parse_json_frame(
                text_data, max_bytes=MAX_MESSAGE_BYTES, too_large="A message is limited to 1 KB."
            )
            ref = message.get("ref")
            if not await database_sync_to_async(_owns)(self.scope.get("user"), self.paper_id):
                await self._refuse(
                    CloseCode.SIGNED_OUT, "signed_out", _("You are no longer signed in as this candidate.")
                )
                return
            reply = await handler_for(HANDLERS, message)(self, message)
            await self.send(text_data=json.dumps(with_ref(reply, ref)))
        except CorridorError as error:
            await self.send(text_data=json.dumps(error_frame(error.code, str(error.message), ref)))
            if error.code == "flooded":
                await self.close(code=CloseCode.FLOODED, reason="flooded")

    async def _heartbeat(self, message: NoFields) -> dict[str, Any]:
        await database_sync_to_async(attempts.paper_presence)(paper_id=self.paper_id, event=PageEvent.HEARTBEAT)
        return {"type": "pong"}

    # Channel-layer messages (exams.live) ------------------------------------------------------------------------

    async def exam_paper_changed(self, message: dict[str, Any]) -> None:
        if message.get("paper_id") == self.paper_id and message.get("reason") not in NOT_FOR_THE_PAGE:
            await self.send(text_data=json.dumps({"type": "changed", "reason": message.get("reason", "")}))


HANDLERS: dict[str, Route[ExamPaperConsumer, Any, dict[str, Any]]] = {
    "heartbeat": Route(NoFields, ExamPaperConsumer._heartbeat),
}
