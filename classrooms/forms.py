"""Forms: the admin's scheduling forms (a live session is refused when it would double-book a room or an instructor),
and those that check what a page posts before a view hands it to a service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.widgets import AdminDateTimeInput

from classrooms.agent.protocol import Command
from classrooms.models import LiveSession, SessionState
from classrooms.services.sessions import session_schedule, session_update
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lms.timezones import SCHEDULING_TIME_ZONE

LOCAL_TIME_HELP = _("Singapore and Chongqing time (UTC+8).")


class CityDateTimeField(forms.DateTimeField):
    """Entered and shown on the two cities' clock (UTC+8), whatever the admin's own time zone setting."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", AdminDateTimeInput)
        kwargs.setdefault("help_text", LOCAL_TIME_HELP)
        super().__init__(**kwargs)

    @property
    def zone(self) -> ZoneInfo:
        return SCHEDULING_TIME_ZONE

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(self.zone):
            return super().prepare_value(value)

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(self.zone):
            return super().to_python(value)


def _people_in(role: Role, *, also: int | None) -> Any:
    in_role = Q(groups__name=role.value)
    if also is not None:
        in_role |= Q(pk=also)
    return User.objects.filter(in_role, is_active=True).distinct().order_by("first_name", "last_name", "email")


class LiveSessionAdminForm(WagtailAdminModelForm):
    """The admin's scheduling form. It schedules and edits through the same services as everything else
    (`session_schedule`, `session_update`), which check the times and refuse a clash naming the room or instructor
    already booked; the admin's views turn their refusal into this form's errors (`refusal_to_errors`).

    An instructor schedules only themselves: the instructor field is fixed to them (and the services refuse
    anyone else), or, editing a colleague's session of a course they teach, to its instructor; administrators
    choose any instructor.
    """

    starts_at = CityDateTimeField(label=_("starts at"))
    ends_at = CityDateTimeField(label=_("ends at"))

    # Which field a service's refusal belongs to (others are about the whole form).
    ERROR_FIELDS = {"invalid_time": "ends_at", "invalid_module": "module", "forbidden": "instructor"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "instructor" in self.fields:
            user = self.for_user
            field = self.fields["instructor"]
            if user is not None and Role.ADMINISTRATOR not in user_roles(user):
                # Themselves, or (a colleague's session of a course they teach) its instructor, kept.
                field.queryset = User.objects.filter(pk__in={user.pk, self.instance.instructor_id or user.pk})
                field.disabled = True  # a posted value is ignored: the instructor is themselves or kept
                if self.instance.pk is None:
                    self.initial["instructor"] = user.pk
            else:
                field.queryset = _people_in(Role.INSTRUCTOR, also=self.instance.instructor_id)

    def _get_validation_exclusions(self) -> set[str]:
        # The model's constraint (ends after it starts) is the service's to explain, in its own words: Django skips
        # a constraint whose field is excluded from the model's validation (the form still checks it is a time).
        return {*super()._get_validation_exclusions(), "ends_at"}

    def save(self, commit: bool = True) -> LiveSession:
        """Schedule or update through the services (a CorridorError means nothing was written)."""
        data = self.cleaned_data
        fields: dict[str, Any] = {
            "title": data["title"],
            "course": data["course"],
            "module": data.get("module"),
            "instructor": data["instructor"],
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "rooms": list(data.get("rooms") or []),
            "online_seats": data.get("online_seats", 50),
            "recorded": bool(data.get("recorded")),
        }
        current: LiveSession = getattr(self, "instance")  # noqa: B009 (django-stubs cannot type a form's instance)
        if current.pk is None:
            saved = session_schedule(**fields, by=self.for_user)
        else:
            saved = session_update(session=current, **fields, by=self.for_user)
        self.instance = saved
        return saved

    def refusal_to_errors(self, error: CorridorError) -> None:
        """Show a service's refusal on the form, beside the field it is about."""
        field = self.ERROR_FIELDS.get(error.code)
        self.add_error(field if field in self.fields else None, str(error.message))


class RoomAdminForm(WagtailAdminModelForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "operators" in self.fields:
            current = list(self.instance.operators.values_list("pk", flat=True)) if self.instance.pk else []
            queryset = User.objects.filter(Q(groups__name=Role.OPERATOR.value) | Q(pk__in=current))
            self.fields["operators"].queryset = queryset.distinct().order_by("first_name", "last_name", "email")


class DeviceAdminForm(WagtailAdminModelForm):
    """The admin's device registry form: registers and edits through the services the console uses
    (`device_register`, `device_update`), so the room's cap and unique names hold here too. Preset names are six
    fields ("Preset 1"–"Preset 6"), kept in the device's `presets`."""

    ERROR_FIELDS = {"duplicate_device": "name", "device_cap": "room"}
    preset_1 = forms.CharField(label=_("Preset 1"), max_length=60, required=False)
    preset_2 = forms.CharField(label=_("Preset 2"), max_length=60, required=False)
    preset_3 = forms.CharField(label=_("Preset 3"), max_length=60, required=False)
    preset_4 = forms.CharField(label=_("Preset 4"), max_length=60, required=False)
    preset_5 = forms.CharField(label=_("Preset 5"), max_length=60, required=False)
    preset_6 = forms.CharField(label=_("Preset 6"), max_length=60, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        presets = (self.instance.presets or {}) if self.instance.pk else {}
        for number in range(1, 7):
            self.initial.setdefault(f"preset_{number}", presets.get(str(number), ""))
        if self.instance.pk and "kind" in self.fields:
            self.fields["kind"].disabled = True
        if self.instance.pk and "room" in self.fields:
            self.fields["room"].disabled = True

    def _get_validation_exclusions(self) -> set[str]:
        # Unique names per room and kind are the service's to explain.
        return {*super()._get_validation_exclusions(), "name"}

    def validate_unique(self) -> None:
        """The service checks uniqueness (with its own message)."""

    def save(self, commit: bool = True) -> Any:
        from classrooms.services.devices import device_register, device_update

        data = self.cleaned_data
        presets = {str(n): data.get(f"preset_{n}") or "" for n in range(1, 7)}
        fields = {
            "name": data["name"],
            "model": data.get("model") or "",
            "address": data.get("address") or "",
            "visca_port": data.get("visca_port"),
            "presets": presets,
            "by": self.for_user,
        }
        current = getattr(self, "instance")  # noqa: B009 (django-stubs cannot type a form's instance)
        if current.pk is None:
            saved = device_register(room=data["room"], kind=data["kind"], **fields)
        else:
            saved = device_update(device=current, **fields)
        self.instance = saved
        return saved

    def refusal_to_errors(self, error: CorridorError) -> None:
        field = self.ERROR_FIELDS.get(error.code)
        self.add_error(field if field in self.fields else None, str(error.message))


class StreamCommandForm(forms.Form):
    """An operator's start or stop for a room's stream (the console's two buttons)."""

    command = forms.ChoiceField(choices=[("start", _("Start")), ("stop", _("Stop"))])

    def command_value(self) -> Command:
        """The checked command; call after `is_valid()`."""
        return "start" if self.cleaned_data["command"] == "start" else "stop"


class SessionStateForm(forms.Form):
    """A moderator's Start or End on the live page."""

    state = forms.ChoiceField(
        choices=[(SessionState.LIVE.value, _("Start")), (SessionState.ENDED.value, _("End"))],
        error_messages={
            "required": _("Choose start or end."),
            "invalid_choice": _("Choose start or end."),
        },
    )

    def state_value(self) -> SessionState:
        """The checked state; call after `is_valid()`."""
        return SessionState(self.cleaned_data["state"])


class MicrophoneForm(forms.Form):
    """An operator's mute or unmute of the room's microphone ("1" mutes, "0" unmutes)."""

    muted = forms.TypedChoiceField(choices=[("1", _("Mute")), ("0", _("Unmute"))], coerce=lambda v: v == "1")


class CameraPresetForm(forms.Form):
    """A preset button on the console: recall (move the camera there) or store (remember where it points)."""

    action = forms.ChoiceField(choices=[("recall", _("Recall")), ("store", _("Store"))])
    preset = forms.TypedChoiceField(choices=[(str(n), str(n)) for n in range(1, 7)], coerce=int)


class DeviceRegistryForm(forms.Form):
    """Register a device in a room, or change one (the console's registry form). Preset names are cameras' only."""

    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("camera", _("Camera")),
            ("microphone", _("Microphone")),
            ("display", _("Display")),
            ("encoder", _("Encoder")),
        ],
    )
    name = forms.CharField(label=_("Name"), max_length=120)
    model = forms.CharField(label=_("Model"), max_length=120, required=False)
    address = forms.CharField(
        label=_("Network address"), max_length=255, required=False, help_text=_("Host name or IP address.")
    )
    visca_port = forms.IntegerField(
        label=_("VISCA port"),
        min_value=1,
        max_value=65535,
        required=False,
        help_text=_("Cameras: the UDP port for VISCA over IP (Sony's default is 52381)."),
    )

    def __init__(self, *args: Any, agent: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if agent:
            # The room agent: its kind and name are fixed; model and address are the registry's to keep.
            kind = self.fields["kind"]
            assert isinstance(kind, forms.ChoiceField)
            kind.choices = [("agent", _("Room agent"))]
        if self.initial.get("kind"):
            self.fields["kind"].disabled = True
        if agent:
            self.fields["name"].disabled = True
            del self.fields["visca_port"]
        for number in range(1, 7) if not agent else ():
            self.fields[f"preset_{number}"] = forms.CharField(
                label=_("Preset %(number)d") % {"number": number}, max_length=60, required=False
            )

    def presets(self) -> dict[str, str]:
        """The preset names entered ("1"–"6"); call after `is_valid()`."""
        return {str(n): self.cleaned_data.get(f"preset_{n}") or "" for n in range(1, 7)}

    def preset_fields(self) -> list[forms.BoundField]:
        return [self[f"preset_{n}"] for n in range(1, 7) if f"preset_{n}" in self.fields]


class DeviceReviewForm(forms.Form):
    """An operator's word on a device a room agent reported that nobody registered."""

    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("dismiss", _("Dismiss"))])


class RosterMarkForm(forms.Form):
    """An operator's mark on the roster: one of the session's trainees, present ("1") or absent ("0")."""

    user_id = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label=_("Trainee"),
        error_messages={
            "required": _("Choose a trainee, and present or absent."),
            "invalid_choice": _("Choose a trainee of this session."),
        },
    )
    present = forms.TypedChoiceField(
        choices=[("1", _("Present")), ("0", _("Absent"))],
        coerce=lambda value: value == "1",
        label=_("Present or absent"),
        error_messages={
            "required": _("Choose a trainee, and present or absent."),
            "invalid_choice": _("Choose present or absent."),
        },
    )

    def __init__(self, *args: Any, trainees: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user_id"].queryset = trainees  # type: ignore[attr-defined]

    def trainee(self) -> User:
        """The checked trainee; call after `is_valid()`."""
        trainee: User = self.cleaned_data["user_id"]
        return trainee

    def is_present(self) -> bool:
        """The checked mark; call after `is_valid()`."""
        return bool(self.cleaned_data["present"])
