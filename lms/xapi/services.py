"""Writes for xAPI: queue a statement (inside the service that writes the event), send what is due in batches, retry.

Delivery (`xapi_statements_send`): due statements are claimed in a short transaction (their next attempt pushed a
lease ahead, rows locked with SKIP LOCKED, so two workers never send the same batch), POSTed as one list to the
LRS's `statements` resource outside any transaction, then marked sent, or failing with the error and a next attempt
after an exponential backoff. Nothing is ever dropped. An LRS that refuses a whole batch as malformed (400, 422) or
as conflicting (409) is asked again one statement at a time, so one bad statement cannot hold the others back; a 409
for a single statement means the LRS already holds that id: it counts as sent.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lms.xapi.builders import XAPI_VERSION
from lms.xapi.models import QueuedStatement, StatementState

logger = logging.getLogger(__name__)

# A claimed batch is not claimed again for this long (the POST times out well before).
CLAIM_LEASE = timedelta(minutes=5)
REQUEST_TIMEOUT_SECONDS = 20
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
# An LRS's answers that one statement can cause for its whole batch: malformed (400; 422 from FastAPI-based LRSs such
# as Ralph) or conflicting (409).
REFUSED_AS_A_BATCH = {400, 409, 422}
# Batches one run of the task sends at most (the next run goes on).
BATCHES_PER_RUN = 20


def xapi_enabled() -> bool:
    """Whether an LRS is configured (XAPI_LRS_URL). Without one nothing is queued."""
    return bool(settings.XAPI_LRS_URL)


def xapi_statement_queue(*, statement: dict[str, Any], now: datetime | None = None) -> QueuedStatement | None:
    """Queue `statement` for the LRS, in the caller's transaction: a write that rolls back queues nothing.

    Does nothing (returns None) when no LRS is configured. The statement's `id` is its row's key: queueing the same
    event again returns the row already queued (or sent), never a second statement.
    """
    if not xapi_enabled():
        return None
    statement_id = uuid.UUID(statement["id"])
    queued, _created = QueuedStatement.objects.get_or_create(
        id=statement_id,
        defaults={
            "statement": statement,
            "verb": statement["verb"]["display"]["en-US"],
            "next_attempt_at": now or timezone.now(),
        },
    )
    return queued


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: one minute, doubling, at most six hours."""
    return min(BACKOFF_FIRST * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


class LrsError(Exception):
    """The LRS could not be reached or refused a request (`status` None when it could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def lrs_post_statements(statements: list[dict[str, Any]]) -> int:
    """POST `statements` as one list to the LRS; the HTTP status of a success (200/204), or LrsError (409 too)."""
    endpoint = settings.XAPI_LRS_URL.rstrip("/") + "/statements"
    if not endpoint.startswith(("http://", "https://")):
        raise LrsError(f"XAPI_LRS_URL must be an http(s) address, not {settings.XAPI_LRS_URL!r}")
    credentials = f"{settings.XAPI_LRS_USERNAME}:{settings.XAPI_LRS_PASSWORD}".encode()
    request = urllib.request.Request(  # noqa: S310 (http or https only, checked above)
        endpoint,
        data=json.dumps(statements).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Experience-API-Version": XAPI_VERSION,
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        body = exc.read(500).decode(errors="replace").strip()
        raise LrsError(f"HTTP {exc.code}: {body}" if body else f"HTTP {exc.code}", status=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LrsError(f"LRS unreachable: {reason}") from exc


@dataclass(frozen=True)
class SendOutcome:
    sent: int
    failed: int

    @property
    def claimed(self) -> int:
        return self.sent + self.failed


def _claim(*, now: datetime, limit: int) -> list[QueuedStatement]:
    with transaction.atomic():
        due = list(
            QueuedStatement.objects.select_for_update(skip_locked=True)
            .filter(state__in=[StatementState.QUEUED, StatementState.FAILING], next_attempt_at__lte=now)
            .order_by("next_attempt_at", "created_at")[:limit]
        )
        QueuedStatement.objects.filter(pk__in=[row.pk for row in due]).update(next_attempt_at=now + CLAIM_LEASE)
    return due


def _mark_sent(rows: Iterable[QueuedStatement], *, now: datetime) -> int:
    ids = [row.pk for row in rows]
    return QueuedStatement.objects.filter(pk__in=ids).update(
        state=StatementState.SENT, sent_at=now, last_error="", next_attempt_at=now
    )


def _mark_failed(rows: Iterable[QueuedStatement], *, error: str, now: datetime) -> int:
    count = 0
    for row in rows:
        row.attempts += 1
        row.state, row.last_error = StatementState.FAILING, error[:2000]
        row.next_attempt_at = now + backoff(row.attempts)
        row.save(update_fields=["attempts", "state", "last_error", "next_attempt_at"])
        count += 1
    return count


def _deliver(rows: list[QueuedStatement], *, now: datetime) -> SendOutcome:
    try:
        lrs_post_statements([row.statement for row in rows])
    except LrsError as exc:
        if exc.status == 409 and len(rows) == 1:
            # The LRS holds a statement with this id already: delivered before (stable id), so it is sent.
            return SendOutcome(sent=_mark_sent(rows, now=now), failed=0)
        if exc.status in REFUSED_AS_A_BATCH and len(rows) > 1:
            # One statement may spoil the batch: each alone, so the good ones go and the bad one shows.
            sent = failed = 0
            for row in rows:
                outcome = _deliver([row], now=now)
                sent, failed = sent + outcome.sent, failed + outcome.failed
            return SendOutcome(sent=sent, failed=failed)
        logger.warning("xAPI: %d statements not delivered: %s", len(rows), exc)
        return SendOutcome(sent=0, failed=_mark_failed(rows, error=str(exc), now=now))
    return SendOutcome(sent=_mark_sent(rows, now=now), failed=0)


def xapi_statements_send(*, now: datetime | None = None, batches: int = BATCHES_PER_RUN) -> SendOutcome:
    """Send what is due, in batches of XAPI_BATCH_SIZE, until nothing is due or a batch fails (the LRS is away:
    no point hammering it) or `batches` were sent."""
    sent = failed = 0
    if not xapi_enabled():
        return SendOutcome(sent=0, failed=0)
    for _batch in range(batches):
        moment = now or timezone.now()
        rows = _claim(now=moment, limit=max(1, settings.XAPI_BATCH_SIZE))
        if not rows:
            break
        outcome = _deliver(rows, now=moment)
        sent, failed = sent + outcome.sent, failed + outcome.failed
        if outcome.failed or len(rows) < settings.XAPI_BATCH_SIZE:
            break
    return SendOutcome(sent=sent, failed=failed)


@transaction.atomic
def xapi_statements_retry_now(*, statement_id: uuid.UUID | None = None, now: datetime | None = None) -> int:
    """Make failing statements due now (one, or all of them); the caller then asks for a send. How many."""
    failing = QueuedStatement.objects.filter(state=StatementState.FAILING)
    if statement_id is not None:
        failing = failing.filter(pk=statement_id)
    return failing.update(next_attempt_at=now or timezone.now())
