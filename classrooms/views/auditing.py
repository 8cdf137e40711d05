"""The audit log's side of the views: each action view is wrapped with `audited`, which records who did what, to
which room, from where, and how it ended (done, or refused with the error's code)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from classrooms.models import Room
from classrooms.services.audit import audit_record, request_address
from lms.errors import CorridorError

View = TypeVar("View", bound=Callable[..., HttpResponse])
# Form fields worth keeping (never a token or a password).
KEPT_FIELDS = (
    "command",
    "muted",
    "state",
    "recorded",
    "preset",
    "camera",
    "action",
    "decision",
    "name",
    "kind",
    "address",
)


def audited(action: str, *, target: Callable[[dict[str, Any]], str] | None = None) -> Callable[[View], View]:
    def wrap(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != "POST":  # showing a form is not an action
                return view(request, *args, **kwargs)
            room_id = kwargs.get("room_id")
            room = Room.objects.filter(pk=room_id).first() if room_id is not None else None
            details = {name: request.POST[name] for name in KEPT_FIELDS if name in request.POST}
            details.update({name: value for name, value in kwargs.items() if name != "room_id"})
            what = target(kwargs) if target else (f"room {room.name}" if room else "")
            try:
                response = view(request, *args, **kwargs)
            except (CorridorError, Http404, PermissionDenied) as error:
                status = (
                    error.status if isinstance(error, CorridorError) else 404 if isinstance(error, Http404) else 403
                )
                code = error.code if isinstance(error, CorridorError) else str(status)
                result = "refused" if status in (401, 403, 404) else "failed"
                audit_record(
                    actor=request.user,
                    action=action,
                    target=what,
                    room=room,
                    result=result,
                    address=request_address(request),
                    details={**details, "error": code},
                )
                raise
            audit_record(
                actor=request.user,
                action=action,
                target=what,
                room=room,
                result="ok" if response.status_code < 400 else "failed",
                address=request_address(request),
                details=details,
            )
            return response

        return wrapped  # type: ignore[return-value]

    return wrap
