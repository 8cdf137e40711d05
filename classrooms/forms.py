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
from classrooms.services.sessions import session_clashes
from courses.models import CoursePage
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
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
    """Checks the times and refuses a clash, naming the room or instructor already booked."""

    starts_at = CityDateTimeField(label=_("starts at"))
    ends_at = CityDateTimeField(label=_("ends at"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "instructor" in self.fields:
            self.fields["instructor"].queryset = _people_in(Role.INSTRUCTOR, also=self.instance.instructor_id)
            # An instructor scheduling a new session is, most of the time, scheduling themselves.
            user = self.for_user
            if self.instance.pk is None and not self.is_bound and Role.INSTRUCTOR in user_roles(user):
                self.initial.setdefault("instructor", user.pk)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        course, module = cleaned.get("course"), cleaned.get("module")
        if module is not None and course is not None and not _module_belongs_to(module, course):
            self.add_error("module", _("Choose a module of the selected course."))
        if starts_at is None or ends_at is None:
            return cleaned
        if ends_at <= starts_at:
            self.add_error("ends_at", _("A session must end after it starts."))
            return cleaned
        instructor = cleaned.get("instructor")
        if instructor is None:
            return cleaned
        for clash in session_clashes(
            starts_at=starts_at,
            ends_at=ends_at,
            instructor=instructor,
            rooms=list(cleaned.get("rooms") or []),
            exclude_id=self.instance.pk,
        ):
            self.add_error(None, clash)
        return cleaned

    def save(self, commit: bool = True) -> Any:
        if self.instance.pk is not None and "starts_at" in self.changed_data:
            # Moved: remind people again before the new start.
            self.instance.reminder_sent_at = None
        return super().save(commit=commit)


def _module_belongs_to(module: Any, course: CoursePage) -> bool:
    """The module sits under this course or under one of its translations."""
    parent = CoursePage.objects.filter(path=module.path[: -CoursePage.steplen]).only("translation_key").first()
    return parent is not None and parent.translation_key == course.translation_key


class RoomAdminForm(WagtailAdminModelForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "operators" in self.fields:
            current = list(self.instance.operators.values_list("pk", flat=True)) if self.instance.pk else []
            queryset = User.objects.filter(Q(groups__name=Role.OPERATOR.value) | Q(pk__in=current))
            self.fields["operators"].queryset = queryset.distinct().order_by("first_name", "last_name", "email")


class StreamCommandForm(forms.Form):
    """An operator's start or stop for a room's stream (the console's two buttons)."""

    command = forms.ChoiceField(choices=[("start", _("Start")), ("stop", _("Stop"))])

    def command_value(self) -> Command:
        """The checked command; call after `is_valid()`."""
        return "start" if self.cleaned_data["command"] == "start" else "stop"


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
