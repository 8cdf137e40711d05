"""Operators' alerts: a room agent or device gone silent, or a link losing packets, raises an alert; recovery clears
it.

`alerts_check` runs every few seconds (Celery beat, or `manage.py run_scheduler` under `make run`) and after each
agent health report for that room. Thresholds are settings (ALERT_SILENT_SECONDS, ALERT_LOSS_PCT,
ALERT_LOSS_SECONDS). An alert is
- a record (`Alert`, one open per key; recovery sets `cleared_at`),
- a banner: the console polls `alerts_for_user`, and the live page of each live session held in the room hears
  `alert.raised` / `alert.cleared` over its socket (to the room's operators and the session's moderators),
- an email to the room's operators, once per alert, each in their preferred language.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from classrooms.fanout import session_group
from classrooms.models import Alert, AlertKind, Device, DeviceKind, LinkSample, LinkScope, LiveSession, Room
from classrooms.realtime import group_send
from classrooms.selectors import alerts as selectors
from classrooms.services.link_quality import link_sample_room_record

logger = logging.getLogger(__name__)

# Devices silent for longer than this when alerts were switched on are not raised for (they were put away, not
# lost just now); an alert raised in time stays open until they are back.
SILENT_HORIZON = timedelta(days=1)


def alert_message(alert: Alert) -> str:
    """What the banner and the email say, in the active language."""
    details = alert.details or {}
    room = alert.room.name if alert.room else ""
    if alert.kind == AlertKind.SILENT:
        if alert.device is not None and alert.device.kind != DeviceKind.AGENT:
            return _("%(device)s in %(room)s has not been reported for %(seconds)d seconds.") % {
                "device": alert.device.name,
                "room": room,
                "seconds": details.get("silent_s", settings.ALERT_SILENT_SECONDS),
            }
        return _("The room agent of %(room)s has been silent for %(seconds)d seconds.") % {
            "room": room,
            "seconds": details.get("silent_s", settings.ALERT_SILENT_SECONDS),
        }
    loss = f"{float(details.get('loss_pct') or 0):.1f}"
    if alert.room is None:
        return _("The Singapore–Chongqing link is losing %(loss)s %% of its packets.") % {"loss": loss}
    return _("The link from %(room)s to the media server is losing %(loss)s %% of its packets.") % {
        "room": room,
        "loss": loss,
    }


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The alert as pages receive it, its words in every language (one frame serves every reader)."""
    words = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            words[code] = alert_message(alert)
    return {
        "id": alert.pk,
        "key": alert.key,
        "kind": alert.kind,
        "room_id": alert.room_id,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "message": words,
    }


def _push_on_commit(alert: Alert, kind: str) -> None:
    """Send `alert.raised` / `alert.cleared` to the live pages of the sessions held in the alert's room."""
    payload = alert_payload(alert)
    targets = [
        (session.pk, selectors.session_operator_ids(session=session, room=alert.room))
        for session in selectors.alert_sessions(room=alert.room)
    ]
    text = json.dumps({"type": kind, "data": payload}, ensure_ascii=False)

    def push() -> None:
        for session_id, operator_ids in targets:
            # Moderators (instructor, administrators) and the room's operators; trainees never see it.
            message = {"type": "live.event", "text": text, "moderators_only": True, "audience": operator_ids}
            group_send(session_group(session_id), message)

    if targets:
        transaction.on_commit(push)


def _raise(
    *, key: str, kind: str, room: Room | None, device: Device | None, details: dict[str, Any], now: datetime
) -> Alert | None:
    """Open the alert `key` unless it is open already. Returns the new alert, or None."""
    if Alert.objects.filter(key=key, cleared_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(key=key, kind=kind, room=room, device=device, details=details, raised_at=now)
            _push_on_commit(alert, "alert.raised")
    except IntegrityError:  # an overlapping check opened it first
        return None
    logger.warning("alert raised: %s %s", key, details)
    return alert


def _clear(*, key: str, now: datetime) -> int:
    cleared = 0
    for alert in Alert.objects.filter(key=key, cleared_at__isnull=True).select_related("room", "device"):
        with transaction.atomic():
            if Alert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(cleared_at=now):
                alert.cleared_at = now
                _push_on_commit(alert, "alert.cleared")
                cleared += 1
    return cleared


def alert_email_send(*, alert_id: int, now: datetime | None = None) -> int:
    """Email the alert to its recipients, once: the claim (`emailed_at`) and the sending share a transaction, so
    a mail server that fails leaves it unclaimed for the next check. Returns the number of emails sent."""
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(emailed_at=now or timezone.now()):
            return 0
        alert = Alert.objects.select_related("room", "device").get(pk=alert_id)
        messages = []
        for user in selectors.alert_recipients(room=alert.room):
            language = user.preferred_language or settings.LANGUAGE_CODE
            with translation.override(language):
                subject = _("Corridor alert: %(what)s") % {
                    "what": alert.room.name if alert.room else _("Singapore–Chongqing link")
                }
                body = "\n\n".join(
                    [
                        alert_message(alert),
                        _("Raised at %(time)s UTC. Corridor clears the alert by itself when this recovers.")
                        % {"time": alert.raised_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")},
                    ]
                )
            messages.append(
                EmailMessage(subject=subject, body=body, to=[user.email], headers={"Content-Language": language})
            )
        if messages:
            get_connection().send_messages(messages)
    return len(messages)


def _check_silent(*, now: datetime, room_ids: set[int] | None) -> list[Alert]:
    limit = timedelta(seconds=settings.ALERT_SILENT_SECONDS)
    devices = Device.objects.filter(last_seen__isnull=False).select_related("room")
    if room_ids is not None:
        devices = devices.filter(room_id__in=room_ids)
    by_room: dict[int, list[Device]] = defaultdict(list)
    for device in devices:
        by_room[device.room_id].append(device)
    raised = []
    for room_devices in by_room.values():
        agent = next((device for device in room_devices if device.kind == DeviceKind.AGENT), None)
        agent_silent = agent is not None and agent.last_seen is not None and now - agent.last_seen > limit
        agent_returned_within_limit = (
            agent is not None and agent.connected_at is not None and now - agent.connected_at <= limit
        )
        for device in room_devices:
            assert device.last_seen is not None
            key = f"silent:device:{device.pk}"
            silent_for = now - device.last_seen
            if silent_for <= limit:
                _clear(key=key, now=now)
                continue
            # While the agent is silent its devices are too: the agent's alert says it once.
            if device.kind != DeviceKind.AGENT and agent_silent:
                continue
            # A returning agent reports its devices a moment after it connects: they are judged from its return.
            if device.kind != DeviceKind.AGENT and agent_returned_within_limit:
                continue
            if silent_for > SILENT_HORIZON:
                continue
            alert = _raise(
                key=key,
                kind=AlertKind.SILENT,
                room=device.room,
                device=device,
                details={"silent_s": int(silent_for.total_seconds()), "device": device.name, "kind": device.kind},
                now=now,
            )
            if alert is not None:
                raised.append(alert)
    return raised


def _check_loss(*, now: datetime, room_ids: set[int] | None) -> list[Alert]:
    threshold, span = settings.ALERT_LOSS_PCT, timedelta(seconds=settings.ALERT_LOSS_SECONDS)
    fresh = timedelta(seconds=settings.ALERT_SILENT_SECONDS)
    samples = LinkSample.objects.filter(at__gte=now - span - 2 * fresh, at__lte=now).order_by("at")
    if room_ids is not None:
        samples = samples.filter(scope=LinkScope.ROOM, room_id__in=room_ids)
    series: dict[str, list[tuple[datetime, float | None]]] = defaultdict(list)
    rooms: dict[str, int | None] = {}
    for sample in samples.values("scope", "room_id", "peer", "at", "loss_pct"):
        key = f"loss:room:{sample['room_id']}" if sample["scope"] == LinkScope.ROOM else f"loss:cross:{sample['peer']}"
        series[key].append((sample["at"], sample["loss_pct"]))
        rooms[key] = sample["room_id"]
    # Open alerts whose link sent nothing lately are cleared too (the silent alert, if any, says why).
    open_keys = Alert.objects.filter(kind=AlertKind.LINK_LOSS, cleared_at__isnull=True)
    if room_ids is not None:
        open_keys = open_keys.filter(room_id__in=room_ids)
    raised = []
    for key in set(series) | set(open_keys.values_list("key", flat=True)):
        points = series.get(key, [])
        start = selectors.lossy_since(points, threshold=threshold)
        if not points or now - points[-1][0] > fresh or start is None:
            _clear(key=key, now=now)
            continue
        if points[-1][0] - start < span:
            continue
        room_id = rooms.get(key)
        lossy = [loss for at, loss in points if at >= start and loss is not None]
        alert = _raise(
            key=key,
            kind=AlertKind.LINK_LOSS,
            room=Room.objects.filter(pk=room_id).first() if room_id else None,
            device=None,
            details={
                "loss_pct": round(sum(lossy) / len(lossy), 2),
                "since": start.isoformat(),
                "peer": key.removeprefix("loss:cross:") if room_id is None else "",
            },
            now=now,
        )
        if alert is not None:
            raised.append(alert)
    return raised


def alerts_check(*, now: datetime | None = None, room_ids: set[int] | None = None) -> list[Alert]:
    """Raise and clear alerts (all rooms and links, or only `room_ids`' rooms), then email what is not yet emailed.
    Returns the alerts raised now."""
    now = now or timezone.now()
    raised = _check_silent(now=now, room_ids=room_ids) + _check_loss(now=now, room_ids=room_ids)
    pending = Alert.objects.filter(emailed_at__isnull=True, cleared_at__isnull=True)
    if room_ids is not None:
        pending = pending.filter(room_id__in=room_ids)
    for alert_id in pending.values_list("pk", flat=True):
        try:
            alert_email_send(alert_id=alert_id, now=now)
        except Exception:  # the mail server: the next check tries again; the banner is up meanwhile
            logger.exception("the email of alert %s failed", alert_id)
    return raised


def agent_report_observe(*, room_id: int, report: Mapping[str, Any], now: datetime | None = None) -> None:
    """After an agent's health report: keep its link's figures (for the charts and the loss alert), then check
    the room's alerts at once (cheap: one room), so recovery clears the banner without waiting for the beat."""
    now = now or timezone.now()
    bitrates = [
        device.get("bitrate_kbps")
        for device in report.get("devices") or []
        if isinstance(device.get("bitrate_kbps"), int | float)
    ]
    link_sample_room_record(
        room_id=room_id,
        session_id=report.get("session_id") if report.get("publishing") else None,
        link=report.get("link") or {},
        bitrate_kbps=sum(bitrates) if bitrates else None,
        now=now,
    )
    try:
        alerts_check(now=now, room_ids={room_id})
    except Exception:  # the agent's report is stored and acknowledged regardless; the periodic check runs again
        logger.exception("the alerts check after room %s's report failed", room_id)


def session_alerts_json(*, session: LiveSession) -> str:
    """The open alerts a session's live page starts with (its rooms' and the cities' link), as JSON."""
    alerts = selectors.open_alerts().filter(Q(room__in=session.rooms.all()) | Q(room__isnull=True))
    return json.dumps([alert_payload(alert) for alert in alerts.order_by("raised_at")], ensure_ascii=False)
