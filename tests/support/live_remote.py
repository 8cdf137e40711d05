"""A participant of a live session on a real server (uvicorn, lms.serve), over a real websocket, that behaves as the
page's live.js does: it applies each event once, and when its socket closes it reconnects, takes the new welcome and
catches up with `sync` after the last event it applied. The fault drills (tests/faults) count on it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

RECONNECT_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0


class RemoteParticipant:
    def __init__(self, base_url: str, session_id: int, cookie: str, name: str) -> None:
        self.url = base_url.replace("http://", "ws://") + f"/ws/sessions/{session_id}/"
        self.origin = base_url
        self.cookie = cookie
        self.name = name
        self.questions: set[int] = set()  # every question this client knows of (snapshot, live, sync)
        self.live_questions: dict[int, float] = {}  # question id -> when it arrived live (not from a sync)
        self.last_event_id = 0
        self.reconnects = 0
        self.closes: list[int | None] = []  # the close code of each socket lost
        self.socket: ClientConnection | None = None
        self._refs = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        await self._connect()
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._heartbeat())]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()

    async def request(self, frame: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Send and wait for its reply (ack, error, synced): raises TimeoutError if none comes."""
        await asyncio.wait_for(self._connected.wait(), timeout)
        ref = next(self._refs)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ref] = reply
        try:
            assert self.socket is not None
            await self.socket.send(json.dumps({**frame, "ref": ref}))
            return await asyncio.wait_for(reply, timeout)
        finally:
            self._replies.pop(ref, None)

    async def ask(self, text: str) -> dict[str, Any]:
        return await self.request({"type": "question.ask", "text": text})

    async def sync(self) -> None:
        """Catch up after the last event applied (waiting out the server's limit of one sync per 2 s)."""
        for _ in range(10):
            reply = await self.request({"type": "sync", "after": self.last_event_id})
            if reply.get("code") != "rate_limited":
                self._apply_reply(reply)
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"{self.name} could not sync")

    # Inside --------------------------------------------------------------------------

    async def _connect(self) -> None:
        self.socket = await websockets.connect(
            self.url,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sessionid={self.cookie}"},
            open_timeout=10,
        )
        welcome = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
        assert welcome["type"] == "welcome", welcome
        resume_after = self.last_event_id
        self._apply_welcome(welcome["data"])
        self._connected.set()
        if resume_after:
            # As live.js does after a reconnect: what happened since the last event seen (the reply comes to _read).
            ref = next(self._refs)
            await self.socket.send(json.dumps({"type": "sync", "after": resume_after, "ref": ref}))

    def _apply_welcome(self, data: dict[str, Any]) -> None:
        self.questions.update(question["id"] for question in data["questions"])
        self.last_event_id = max(self.last_event_id, data["last_event_id"])

    def _apply_event(self, frame: dict[str, Any], *, live: bool) -> None:
        if frame["type"] == "question.created":
            self.questions.add(frame["data"]["id"])
            if live:
                self.live_questions.setdefault(frame["data"]["id"], time.monotonic())
        self.last_event_id = max(self.last_event_id, frame["event_id"])

    def _apply_reply(self, reply: dict[str, Any]) -> None:
        if reply["type"] == "synced":
            for event in reply["events"]:
                self._apply_event(event, live=False)
        elif reply["type"] == "welcome":
            self._apply_welcome(reply["data"])

    async def _read(self) -> None:
        while not self._stopping:
            assert self.socket is not None
            try:
                async for text in self.socket:
                    frame = json.loads(text)
                    if "event_id" in frame:
                        self._apply_event(frame, live=True)
                        continue
                    waiting = self._replies.get(frame.get("ref"))
                    if waiting is not None and not waiting.done():
                        waiting.set_result(frame)
                    else:
                        self._apply_reply(frame)
            except websockets.ConnectionClosed:
                pass
            if self._stopping:
                return
            self._connected.clear()
            self.closes.append(self.socket.close_code)
            while not self._stopping:
                await asyncio.sleep(RECONNECT_SECONDS)
                try:
                    await self._connect()
                except (OSError, TimeoutError, websockets.WebSocketException, AssertionError):
                    continue
                self.reconnects += 1
                break

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):
                if self.socket is not None and self._connected.is_set():
                    await self.socket.send(json.dumps({"type": "heartbeat"}))
