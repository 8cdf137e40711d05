"""Operators' alerts (the banner's feed), link-quality charts (a room's, the cities' link, a session's), and the
audit log (administrators: filter, export as CSV).

Who may: alerts and a room's charts, the room's operators and administrators; a session's charts, its moderators
and its rooms' operators; the audit log, administrators only.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from classrooms.charts import LineChart, line_chart
from classrooms.models import LiveSession, Room
from classrooms.selectors import alerts as alert_selectors
from classrooms.selectors import audit as audit_selectors
from classrooms.selectors import devices as device_selectors
from classrooms.selectors import link_quality
from classrooms.selectors.link_quality import LinkSeries
from classrooms.services.alerts import alert_payload
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lms.timezones import city_time_zone

LINKS_REFRESH_SECONDS = 5
AUDIT_PAGE_SIZE = 100


def _forbidden() -> CorridorError:
    return CorridorError("forbidden", _("You do not have access to this page."), status=403)


def _operated_room(request: HttpRequest, room_id: int) -> Room:
    room = get_object_or_404(Room, pk=room_id)
    if not device_selectors.can_operate_room(room=room, user=request.user):
        raise _forbidden()
    return room


# Alerts ---------------------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_GET
def alerts_active(request: HttpRequest) -> JsonResponse:
    """The open alerts the reader should see, for the console's banner (polled every few seconds)."""
    if not user_roles(request.user) & {Role.OPERATOR, Role.ADMINISTRATOR}:
        raise _forbidden()
    language = get_language() or "en"
    alerts = []
    for alert in alert_selectors.alerts_for_user(user=request.user):
        payload = alert_payload(alert)
        payload["text"] = payload["message"].get(language) or payload["message"].get("en", "")
        alerts.append(payload)
    return JsonResponse({"alerts": alerts})


# Link quality ---------------------------------------------------------------------------------------------------


def _charts(series: LinkSeries, *, start: datetime, end: datetime, zone: Any) -> list[LineChart]:
    titles = {
        "rtt_ms": (_("Round trip"), "ms"),
        "loss_pct": (_("Packet loss"), "%"),
        "jitter_ms": (_("Jitter"), "ms"),
        "bitrate_kbps": (_("Bitrate"), "kbit/s"),
    }
    return [
        line_chart(
            title=title,
            unit=unit,
            lines=sorted(series.figures[name].items()),
            start=start,
            end=end,
            zone=zone,
            threshold=settings.ALERT_LOSS_PCT if name == "loss_pct" else None,
        )
        for name, (title, unit) in titles.items()
    ]


def _room_links_context(room: Room) -> dict[str, Any]:
    start, end = link_quality.live_window()
    zone = city_time_zone(room.city)
    room_series = link_quality.room_link_series(room=room, start=start, end=end)
    cross_series = link_quality.cross_link_series(start=start, end=end)
    return {
        "room": room,
        "zone": zone,
        "now": end,
        "room_charts": _charts(room_series, start=start, end=end, zone=zone),
        "room_empty": room_series.empty,
        "cross_exists": link_quality.cross_link_exists(),
        "cross_charts": _charts(cross_series, start=start, end=end, zone=zone),
        "cross_empty": cross_series.empty,
        "refresh_seconds": LINKS_REFRESH_SECONDS,
        "minutes": int(link_quality.LIVE_WINDOW.total_seconds() // 60),
    }


@never_cache
@login_required
@require_GET
def room_links(request: HttpRequest, room_id: int) -> HttpResponse:
    """The room's link and the Singapore–Chongqing link over the last 15 minutes, updating live."""
    room = _operated_room(request, room_id)
    return render(request, "classrooms/room_links.html", _room_links_context(room))


@never_cache
@login_required
@require_GET
def room_links_panel(request: HttpRequest, room_id: int) -> HttpResponse:
    room = _operated_room(request, room_id)
    return render(request, "classrooms/_room_links_panel.html", _room_links_context(room))


@never_cache
@login_required
@require_GET
def session_links(request: HttpRequest, session_id: int) -> HttpResponse:
    """A session's link quality, kept after it: each room's link while it served the session, and the cities'."""
    session = get_object_or_404(LiveSession.objects.select_related("course"), pk=session_id)
    if not link_quality.can_read_session_links(session=session, user=request.user):
        raise _forbidden()
    window = link_quality.session_window(session=session)
    rooms = list(session.rooms.all())
    zone = city_time_zone(rooms[0].city if rooms else "singapore")
    context: dict[str, Any] = {"session": session, "window": window, "zone": zone, "rooms": []}
    if window is not None:
        start, end = window
        for room in rooms:
            series = link_quality.room_link_series(room=room, start=start, end=end, session=session)
            context["rooms"].append(
                {"room": room, "charts": _charts(series, start=start, end=end, zone=zone), "empty": series.empty}
            )
        cross = link_quality.cross_link_series(start=start, end=end)
        context["cross_charts"] = _charts(cross, start=start, end=end, zone=zone)
        context["cross_empty"] = cross.empty
        context["cross_exists"] = link_quality.cross_link_exists() or not cross.empty
    return render(request, "classrooms/session_links.html", context)


# The audit log --------------------------------------------------------------------------------------------------


def _audit_filter(request: HttpRequest) -> audit_selectors.AuditFilter:
    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(request.GET.get(name, "").strip()) if request.GET.get(name) else None
        except ValueError:
            raise CorridorError("invalid_date", _("Give dates as YYYY-MM-DD.")) from None

    room = request.GET.get("room", "").strip()
    if room and not room.isdigit():
        raise CorridorError("invalid_room", _("Choose a room from the list."))
    return audit_selectors.AuditFilter(
        actor=request.GET.get("actor", "").strip()[:100],
        action=request.GET.get("action", "").strip()[:60],
        room_id=int(room) if room else None,
        result=request.GET.get("result", "").strip()[:20],
        since=day("since"),
        until=day("until"),
    )


def _require_auditor(request: HttpRequest) -> None:
    if not audit_selectors.can_read_audit(user=request.user):
        raise _forbidden()


@never_cache
@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    filters = _audit_filter(request)
    page = Paginator(audit_selectors.audit_entries(filters=filters), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "classrooms/audit_log.html",
        {
            "page": page,
            "filters": filters,
            "actions": audit_selectors.audit_actions(),
            "rooms": Room.objects.order_by("city", "name"),
            "query": query.urlencode(),
            "zone": timezone.get_current_timezone(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@never_cache
@login_required
@require_GET
def audit_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log as CSV (UTC times, every matching entry)."""
    _require_auditor(request)
    entries = audit_selectors.audit_entries(filters=_audit_filter(request))
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield "\ufeff"  # spreadsheet programs read UTF-8 (Chinese names) only with the mark
        yield writer.writerow(["at_utc", "who", "action", "target", "room", "result", "from", "details"])
        for entry in entries.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    entry.at.astimezone(UTC).isoformat(),
                    entry.actor_name,
                    entry.action,
                    entry.target,
                    entry.room.name if entry.room else "",
                    entry.result,
                    entry.address or "",
                    json.dumps(entry.details, ensure_ascii=False) if entry.details else "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="corridor-audit-log.csv"'
    return response
