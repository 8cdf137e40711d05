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

from classrooms.forms import (
    CameraPresetForm,
    DeviceRegistryForm,
    DeviceReviewForm,
    MicrophoneForm,
    StreamCommandForm,
)
from classrooms.models import Device, DeviceKind, DeviceReview, DeviceToken, Room
from classrooms.selectors import devices as device_selectors
from classrooms.selectors.devices import HISTORY, DeviceView, Series
from classrooms.services import devices
from classrooms.views.auditing import audited
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
        "stream_plan": device_selectors.agent_stream_plan(agent=agent, session=session),
        "last_command": agent.last_command if agent else {},
        "rows": _device_rows(
            [
                view
                for view in views
                if view.device.kind != DeviceKind.AGENT and view.device.review != DeviceReview.DISMISSED
            ],
            now,
        ),
        "beyond_cap": (agent.health or {}).get("beyond_cap", 0) if agent else 0,
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
    rooms = device_selectors.operated_rooms(user=request.user).order_by("city", "name")
    now, labels = timezone.now(), _status_labels()
    cards = []
    for room in rooms:
        agent = device_selectors.room_agent(room=room)
        status = device_selectors.device_status(agent, now=now) if agent else "never"
        live = status not in ("offline", "never") and agent is not None and agent.publishing
        cards.append({"room": room, "status": status, "status_label": labels[status], "publishing": live})
    return render(
        request,
        "classrooms/room_index.html",
        {
            "rooms": rooms,
            "cards": cards,
            "may_read_audit": Role.ADMINISTRATOR in user_roles(request.user),
        },
    )


@never_cache
@login_required
@require_GET
def room_devices(request: HttpRequest, room_id: int) -> HttpResponse:
    room = _room(request, room_id)
    return render(request, "classrooms/room_devices.html", _page_context(room))


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
@audited("room.stream")
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


@login_required
@require_POST
@audited("room.microphone")
def room_microphone(request: AuthenticatedHttpRequest, room_id: int) -> HttpResponse:
    """Mute or unmute the room's microphone: the agent sends silence meanwhile, and the live page shows it."""
    room = _room(request, room_id)
    form = MicrophoneForm(request.POST)
    if not form.is_valid():
        raise CorridorError("invalid_command", _("Choose mute or unmute."))
    muted: bool = form.cleaned_data["muted"]
    devices.room_microphone_set(room=room, muted=muted, by=request.user)
    text = _("The room's microphone is muted.") if muted else _("The room's microphone is on again.")
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"muted": muted, "message": text})
    messages.success(request, text)
    return _back(room)


@never_cache
@login_required
@require_POST
@audited("device.token.issue")
def room_token_issue(request: AuthenticatedHttpRequest, room_id: int) -> HttpResponse:
    """A new token for the room's agent, shown on this response only (it replaces the room's earlier tokens)."""
    room = _room(request, room_id)
    issued = devices.device_token_issue(room=room, by=request.user)
    context = _page_context(room)
    context["issued"] = issued
    return render(request, "classrooms/room_devices.html", context)


@login_required
@require_POST
@audited("device.token.revoke")
def room_token_revoke(request: HttpRequest, room_id: int, token_id: int) -> HttpResponse:
    room = _room(request, room_id)
    token: DeviceToken = get_object_or_404(device_selectors.room_tokens(room=room), pk=token_id)
    devices.device_token_revoke(token=token)
    messages.success(
        request, _("Token %(prefix)s… is revoked; an agent using it is disconnected.") % {"prefix": token.prefix}
    )
    return _back(room)


# The device registry and camera presets ---------------------------------------------------------------------------


def _page_context(room: Room) -> dict[str, Any]:
    """The whole console page: the refreshed panel, and the parts around it (presets, registry, tokens)."""
    context = _panel_context(room)
    context["tokens"] = list(device_selectors.room_tokens(room=room)[:20])
    context["cameras"] = [_camera_card(camera) for camera in device_selectors.room_cameras(room=room)]
    context["registry"] = list(device_selectors.room_registry(room=room))
    context["register_form"] = DeviceRegistryForm()
    return context


def _preset_label(camera: Device, number: int) -> str:
    name = (camera.presets or {}).get(str(number), "")
    label = _("Preset %(number)d") % {"number": number}
    return f"{label}: {name}" if name else label


def _camera_command_text(camera: Device) -> dict[str, Any]:
    """The camera's last preset command in words (the console's status line under its buttons, and its JSON)."""
    state, _reason = device_selectors.camera_command_state(camera=camera)
    command = camera.last_command or {}
    outcome = str(command.get("outcome", ""))
    if state == "none":
        return {"state": state, "outcome": "", "text": ""}
    what = (_("Recall preset %(number)s") if command.get("command") == "recall" else _("Store preset %(number)s")) % {
        "number": command.get("preset")
    }
    if state == "pending":
        text = _("%(what)s: sent, waiting for the camera…") % {"what": what}
    elif state == "ok":
        text = _("%(what)s: acknowledged by the camera.") % {"what": what}
    else:
        reasons = {
            "timeout": _("no acknowledgement from the camera within 2 seconds"),
            "camera_error": _("the camera answered with an error (%(detail)s)") % {"detail": command.get("message")},
            "unreachable": _("the camera is unreachable (%(detail)s)") % {"detail": command.get("message")},
            "refused": _("refused: the camera is not this room agent's"),
        }
        reason = reasons.get(outcome, _("no answer from the room agent"))
        text = _("%(what)s failed: %(reason)s.") % {"what": what, "reason": reason}
        outcome = outcome or "no_answer"
    return {"state": state, "outcome": outcome, "text": text}


def _camera_card(camera: Device) -> dict[str, Any]:
    return {
        "camera": camera,
        "reachable": bool(camera.address and camera.visca_port),
        "presets": [{"number": n, "label": _preset_label(camera, n)} for n in range(1, 7)],
        "command": _camera_command_text(camera),
    }


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _room_camera(room: Room, camera_id: int) -> Device:
    """One of `room`'s cameras: another room's id (forged) is 404, whoever asks."""
    camera = device_selectors.room_device(room=room, device_id=camera_id)
    if camera is None or camera.kind != DeviceKind.CAMERA:
        raise CorridorError("not_found", _("This room has no such camera."), status=404)
    return camera


@login_required
@require_POST
@audited("camera.preset")
def room_camera_preset(request: AuthenticatedHttpRequest, room_id: int, camera_id: int) -> HttpResponse:
    """Recall or store one of a camera's presets: the room agent sends it over VISCA and reports the answer."""
    room = _room(request, room_id)
    camera = _room_camera(room, camera_id)
    form = CameraPresetForm(request.POST)
    if not form.is_valid():
        raise CorridorError("invalid_command", _("Choose recall or store, and a preset from 1 to 6."))
    sent = devices.camera_preset_send(
        room=room,
        camera=camera,
        action=form.cleaned_data["action"],
        preset=form.cleaned_data["preset"],
        by=request.user,
    )
    camera.last_command = sent
    answer = _camera_command_text(camera)
    if _wants_json(request):
        return JsonResponse({"command": sent, "message": answer["text"], **answer})
    messages.success(request, answer["text"])
    return _back(room)


@never_cache
@login_required
@require_GET
def room_camera_state(request: HttpRequest, room_id: int, camera_id: int) -> HttpResponse:
    """The camera's last preset command and its answer (the console asks until it is no longer pending)."""
    room = _room(request, room_id)
    camera = _room_camera(room, camera_id)
    return JsonResponse(_camera_command_text(camera))


def _initial(device: Device) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "kind": device.kind,
        "name": device.name,
        "model": device.model,
        "address": device.address,
        "visca_port": device.visca_port,
    }
    initial.update({f"preset_{n}": (device.presets or {}).get(str(n), "") for n in range(1, 7)})
    return initial


def _registry_page(request: HttpRequest, room: Room, form: DeviceRegistryForm, device: Device | None) -> HttpResponse:
    status = 400 if form.is_bound else 200
    return render(
        request, "classrooms/room_device_form.html", {"room": room, "form": form, "device": device}, status=status
    )


@never_cache
@login_required
@audited("device.register")
def room_device_new(request: AuthenticatedHttpRequest, room_id: int) -> HttpResponse:
    """Register a camera, microphone, display or encoder in the room."""
    room = _room(request, room_id)
    form = DeviceRegistryForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _registry_page(request, room, form, None)
    data = form.cleaned_data
    try:
        device = devices.device_register(
            room=room,
            kind=data["kind"],
            name=data["name"],
            model=data["model"],
            address=data["address"],
            visca_port=data.get("visca_port"),
            presets=form.presets(),
            by=request.user,
        )
    except CorridorError as error:
        form.add_error(None, str(error.message))
        return _registry_page(request, room, form, None)
    messages.success(request, _("%(name)s is registered.") % {"name": device.name})
    return _back(room)


@never_cache
@login_required
@audited("device.update")
def room_device_edit(request: AuthenticatedHttpRequest, room_id: int, device_id: int) -> HttpResponse:
    """Change a device's name, model, address, VISCA port and preset names (its kind stays)."""
    room = _room(request, room_id)
    device = device_selectors.room_device(room=room, device_id=device_id)
    if device is None:
        raise CorridorError("not_found", _("This room has no such device."), status=404)
    is_agent = device.kind == DeviceKind.AGENT
    if request.method != "POST":
        form = DeviceRegistryForm(initial=_initial(device), agent=is_agent)
        return _registry_page(request, room, form, device)
    form = DeviceRegistryForm(
        {**request.POST.dict(), "kind": device.kind} | ({"name": device.name} if is_agent else {}),
        initial=_initial(device),
        agent=is_agent,
    )
    if not form.is_valid():
        return _registry_page(request, room, form, device)
    data = form.cleaned_data
    try:
        devices.device_update(
            device=device,
            name=data["name"],
            model=data["model"],
            address=data["address"],
            visca_port=data.get("visca_port"),
            presets=form.presets(),
            by=request.user,
        )
    except CorridorError as error:
        form.add_error(None, str(error.message))
        return _registry_page(request, room, form, device)
    messages.success(request, _("%(name)s is saved.") % {"name": data["name"]})
    return _back(room)


@login_required
@require_POST
@audited("device.review")
def room_device_review(request: AuthenticatedHttpRequest, room_id: int, device_id: int) -> HttpResponse:
    """Accept a device an agent reported into the registry, or dismiss it."""
    room = _room(request, room_id)
    device = device_selectors.room_device(room=room, device_id=device_id)
    if device is None:
        raise CorridorError("not_found", _("This room has no such device."), status=404)
    form = DeviceReviewForm(request.POST)
    if not form.is_valid():
        raise CorridorError("invalid_command", _("Choose accept or dismiss."))
    accept = form.cleaned_data["decision"] == "accept"
    devices.device_review(device=device, accept=accept, by=request.user)
    text = (
        _("%(name)s is accepted into the registry.") if accept else _("%(name)s is dismissed: its reports are ignored.")
    ) % {"name": device.name}
    messages.success(request, text)
    return _back(room)
