"""The operator console: a room's devices and their health, its stream (start, stop), its agent's tokens.

Who may: the room's operators and administrators (`selectors.devices.can_operate_room`), checked on every view for
the very room in the URL; anyone else gets 403. The panel (`room-devices-panel`) is the part the page refreshes
every few seconds; the buttons sit outside it, so refreshing never takes a keyboard user's focus away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from classrooms.forms import StreamCommandForm
from classrooms.models import DeviceKind, DeviceToken, Room
from classrooms.selectors import devices as device_selectors
from classrooms.selectors.devices import HISTORY, DeviceView, Series
from classrooms.services import devices
from lms.accounts.requests import AuthenticatedHttpRequest
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lms.timezones import city_label, city_time_zone

PANEL_REFRESH_SECONDS = 3
SPARK_WIDTH, SPARK_HEIGHT = 160, 32


def _forbidden() -> CorridorError:
    return CorridorError("forbidden", _("You do not have access to this page."), status=403)


def _room(request: HttpRequest, room_id: int) -> Room:
    room = get_object_or_404(Room, pk=room_id)
    if not device_selectors.can_operate_room(room=room, user=request.user):
        raise _forbidden()
    return room


@dataclass(frozen=True)
class Sparkline:
    """A figure's last minutes as SVG polyline points, with words for screen readers."""

    points: str
    label: str
    caption: str
    latest: float | None


def _spark_y(value: float, top: float) -> float:
    return SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * value / top


def sparkline(series: Series, *, name: str, unit: str, caption: str, now: datetime) -> Sparkline | None:
    if not series.values:
        return None
    top = max(max(series.values), 1e-9)
    start = now - HISTORY
    points = " ".join(
        f"{SPARK_WIDTH * max(0.0, (at - start) / HISTORY):.1f},{_spark_y(value, top):.1f}"
        for at, value in zip(series.times, series.values, strict=True)
    )
    label = _("%(name)s over the last %(minutes)d minutes: from %(low)s to %(high)s %(unit)s, now %(now)s %(unit)s") % {
        "name": name,
        "minutes": HISTORY.total_seconds() // 60,
        "low": f"{min(series.values):.0f}",
        "high": f"{max(series.values):.0f}",
        "now": f"{series.values[-1]:.0f}",
        "unit": unit,
    }
    return Sparkline(points=points, label=label, caption=caption, latest=series.latest)


def _status_labels() -> dict[str, str]:
    return {
        "online": pgettext("room devices", "Online"),
        "degraded": pgettext("room devices", "Degraded"),
        "offline": pgettext("room devices", "Offline"),
        "never": pgettext("room devices", "Never connected"),
    }


def _device_rows(views: list[DeviceView], now: datetime) -> list[dict[str, Any]]:
    labels = _status_labels()
    rows = []
    for view in views:
        device = view.device
        rows.append(
            {
                "device": device,
                "status": view.status,
                "status_label": labels[view.status],
                "health": device.health or {},
                "fps": sparkline(
                    view.fps, name=_("Frames per second"), unit="fps", caption=_("Frames per second"), now=now
                ),
                "bitrate": sparkline(
                    view.bitrate, name=_("Bitrate"), unit="kbit/s", caption=_("Bitrate (kbit/s)"), now=now
                ),
            }
        )
    return rows


def _panel_context(room: Room) -> dict[str, Any]:
    now = timezone.now()
    views = device_selectors.room_device_views(room=room, now=now)
    agent_view = next((view for view in views if view.device.kind == DeviceKind.AGENT), None)
    agent = agent_view.device if agent_view else None
    session = device_selectors.room_live_session(room=room)
    streaming_into = None
    if agent is not None and agent.publishing and agent_view and agent_view.status != "offline":
        streaming_into = (agent.health or {}).get("session_id")
    link = (agent.health or {}).get("link", {}) if agent else {}
    return {
        "room": room,
        "now": now,
        "zone": city_time_zone(room.city),
        "city_name": city_label(room.city),
        "agent": agent,
        "agent_status": agent_view.status if agent_view else "never",
        "agent_status_label": _status_labels()[agent_view.status if agent_view else "never"],
        "live_session": session,
        "streaming_into": streaming_into,
        "last_command": agent.last_command if agent else {},
        "rows": _device_rows([view for view in views if view.device.kind != DeviceKind.AGENT], now),
        "link": link,
        "rtt": sparkline(agent_view.rtt, name=_("Round trip"), unit="ms", caption=_("Round trip (ms)"), now=now)
        if agent_view
        else None,
        "loss": sparkline(agent_view.loss, name=_("Packet loss"), unit="%", caption=_("Packet loss (%)"), now=now)
        if agent_view
        else None,
        "refresh_seconds": PANEL_REFRESH_SECONDS,
    }


@never_cache
@login_required
@require_GET
def room_index(request: HttpRequest) -> HttpResponse:
    """The rooms the reader operates (every room for an administrator)."""
    if not user_roles(request.user) & {Role.OPERATOR, Role.ADMINISTRATOR}:
        raise _forbidden()
    rooms = device_selectors.operated_rooms(user=request.user)
    return render(request, "classrooms/room_index.html", {"rooms": rooms.order_by("city", "name")})


@never_cache
@login_required
@require_GET
def room_devices(request: HttpRequest, room_id: int) -> HttpResponse:
    room = _room(request, room_id)
    context = _panel_context(room)
    context["tokens"] = list(device_selectors.room_tokens(room=room)[:20])
    return render(request, "classrooms/room_devices.html", context)


@never_cache
@login_required
@require_GET
def room_devices_panel(request: HttpRequest, room_id: int) -> HttpResponse:
    """The devices panel alone: the console page swaps it in every few seconds."""
    room = _room(request, room_id)
    return render(request, "classrooms/_room_devices_panel.html", _panel_context(room))


def _back(room: Room) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("classrooms:room-devices", kwargs={"room_id": room.pk}), status=303)


@login_required
@require_POST
def room_stream(request: AuthenticatedHttpRequest, room_id: int) -> HttpResponse:
    """Start or stop the room's stream: the command goes to the agent; its answer shows in the panel."""
    room = _room(request, room_id)
    form = StreamCommandForm(request.POST)
    if not form.is_valid():
        raise CorridorError("invalid_command", _("Choose start or stop."))
    command = form.command_value()
    sent = devices.agent_command_send(room=room, command=command, by=request.user)
    text = _("Start sent to the room agent.") if command == "start" else _("Stop sent to the room agent.")
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"command": sent, "message": text})
    messages.success(request, text)
    return _back(room)


@never_cache
@login_required
@require_POST
def room_token_issue(request: AuthenticatedHttpRequest, room_id: int) -> HttpResponse:
    """A new token for the room's agent, shown on this response only (it replaces the room's earlier tokens)."""
    room = _room(request, room_id)
    issued = devices.device_token_issue(room=room, by=request.user)
    context = _panel_context(room)
    context["tokens"] = list(device_selectors.room_tokens(room=room)[:20])
    context["issued"] = issued
    return render(request, "classrooms/room_devices.html", context)


@login_required
@require_POST
def room_token_revoke(request: HttpRequest, room_id: int, token_id: int) -> HttpResponse:
    room = _room(request, room_id)
    token: DeviceToken = get_object_or_404(device_selectors.room_tokens(room=room), pk=token_id)
    devices.device_token_revoke(token=token)
    messages.success(
        request, _("Token %(prefix)s… is revoked; an agent using it is disconnected.") % {"prefix": token.prefix}
    )
    return _back(room)
