"""Rooms and live sessions in the Wagtail admin: instructors schedule (their own sessions only), administrators
manage every session and the rooms. Scheduling goes through the services (`LiveSessionAdminForm.save`)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel, ObjectList
from wagtail.admin.ui.tables import Column
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    CopyView,
    CreateView,
    DeleteView,
    EditView,
    HistoryView,
    SnippetViewSet,
    SnippetViewSetGroup,
    UsageView,
)

from classrooms.forms import DeviceAdminForm, LiveSessionAdminForm, RoomAdminForm
from classrooms.models import Device, DeviceKind, LiveSession, Room
from classrooms.selectors.audit import can_read_audit
from classrooms.selectors.sessions import sessions_managed_by
from lms.accounts.models import Region, User
from lms.accounts.roles import Role
from lms.errors import CorridorError
from lms.timezones import SCHEDULING_TIME_ZONE


def _local_times(session: LiveSession) -> str:
    zone = SCHEDULING_TIME_ZONE
    starts, ends = timezone.localtime(session.starts_at, zone), timezone.localtime(session.ends_at, zone)
    return f"{starts:%Y-%m-%d %H:%M}–{ends:%H:%M}"


def _rooms(session: LiveSession) -> str:
    return ", ".join(str(room) for room in session.rooms.all()) or str(_("Online only"))


def _operators(room: Room) -> str:
    return ", ".join(str(user) for user in room.operators.all())


def _instructors(request: HttpRequest | None) -> QuerySet[User]:
    return User.objects.filter(groups__name=Role.INSTRUCTOR.value).order_by("first_name", "last_name", "email")


class LiveSessionFilterSet(WagtailFilterSet):
    city = django_filters.ChoiceFilter(
        label=_("City"),
        field_name="rooms__city",
        choices=Region.choices,
        distinct=True,
        empty_label=_("All"),
        widget=forms.RadioSelect,
    )
    starts_at = django_filters.DateFromToRangeFilter(label=_("Date"), widget=DateRangePickerWidget)
    instructor = django_filters.ModelChoiceFilter(label=_("Instructor"), queryset=_instructors)

    class Meta:
        model = LiveSession
        fields = ["state", "city", "instructor", "rooms", "starts_at"]


class _RefusalsAsFormErrors:
    """The services refuse (a clash, bad times, someone else's session); the form shows why, nothing is saved."""

    produced_error_message: Any

    def form_valid(self, form: LiveSessionAdminForm) -> HttpResponse:
        try:
            return super().form_valid(form)  # type: ignore[misc,no-any-return]
        except CorridorError as error:
            form.refusal_to_errors(error)
            self.produced_error_message = self.get_error_message()  # type: ignore[attr-defined]
            return self.form_invalid(form)  # type: ignore[attr-defined,no-any-return]


class _OwnSessionsOnly:
    """An instructor reaches only their own sessions' pages (edit, delete, copy, history, usage): anyone else's is
    refused (Wagtail sends them back to the admin's home with "Sorry, you do not have permission")."""

    request: HttpRequest

    def get_object(self, *args: Any, **kwargs: Any) -> LiveSession:
        found: LiveSession = super().get_object(*args, **kwargs)  # type: ignore[misc]
        if not sessions_managed_by(user=self.request.user).filter(pk=found.pk).exists():
            raise PermissionDenied
        return found


class LiveSessionCreateView(_RefusalsAsFormErrors, CreateView):
    pass


class LiveSessionEditView(_RefusalsAsFormErrors, _OwnSessionsOnly, EditView):
    pass


class LiveSessionDeleteView(_OwnSessionsOnly, DeleteView):
    pass


class LiveSessionCopyView(_RefusalsAsFormErrors, _OwnSessionsOnly, CopyView):
    pass


class LiveSessionHistoryView(_OwnSessionsOnly, HistoryView):
    pass


class LiveSessionUsageView(_OwnSessionsOnly, UsageView):
    pass


class LiveSessionViewSet(SnippetViewSet):
    model = LiveSession
    icon = "calendar-alt"
    menu_label = _("Live sessions")
    list_display = [
        "title",
        Column("course", label=_("Course"), accessor="course.title"),
        "instructor",
        Column("starts_at", label=_("When (UTC+8)"), accessor=_local_times, sort_key="starts_at"),
        Column("rooms", label=_("Rooms"), accessor=_rooms),
        "state",
    ]
    filterset_class = LiveSessionFilterSet
    search_fields = ["title", "course__title", "instructor__email", "instructor__first_name", "instructor__last_name"]
    ordering = ["-starts_at"]
    edit_handler = ObjectList(
        [
            FieldPanel("title"),
            FieldRowPanel([FieldPanel("course"), FieldPanel("module")]),
            FieldPanel("instructor"),
            FieldRowPanel([FieldPanel("starts_at"), FieldPanel("ends_at")]),
            FieldPanel("rooms", widget=forms.CheckboxSelectMultiple),
            FieldPanel("online_seats"),
            FieldPanel("recorded"),
        ],
        base_form_class=LiveSessionAdminForm,
    )
    add_view_class = LiveSessionCreateView
    edit_view_class = LiveSessionEditView
    delete_view_class = LiveSessionDeleteView
    copy_view_class = LiveSessionCopyView
    history_view_class = LiveSessionHistoryView
    usage_view_class = LiveSessionUsageView

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveSession]:
        # An instructor's list holds their own sessions; an administrator's, every session.
        return sessions_managed_by(user=request.user).select_related("course", "instructor").prefetch_related("rooms")


class RoomViewSet(SnippetViewSet):
    model = Room
    icon = "home"
    menu_label = _("Rooms")
    list_display = ["name", "city", "capacity", Column("operators", label=_("Operators"), accessor=_operators)]
    list_filter = ["city"]
    search_fields = ["name"]
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldRowPanel([FieldPanel("city"), FieldPanel("capacity")]),
            FieldPanel("operators", widget=forms.CheckboxSelectMultiple),
        ],
        base_form_class=RoomAdminForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        return Room.objects.prefetch_related("operators")


class DeviceCreateView(_RefusalsAsFormErrors, CreateView):
    pass


class DeviceEditView(_RefusalsAsFormErrors, EditView):
    pass


class DeviceViewSet(SnippetViewSet):
    """The device registry for administrators (a room's operators keep theirs on the console)."""

    model = Device
    icon = "media"
    menu_label = _("Devices")
    list_display = ["name", "kind", "room", "model", "address", "visca_port", "review"]
    list_filter = ["room", "kind", "review"]
    search_fields = ["name", "model", "address"]
    edit_handler = ObjectList(
        [
            FieldRowPanel([FieldPanel("room"), FieldPanel("kind")]),
            FieldPanel("name"),
            FieldPanel("model"),
            FieldRowPanel([FieldPanel("address"), FieldPanel("visca_port")]),
            FieldRowPanel([FieldPanel(f"preset_{number}") for number in (1, 2, 3)], heading=_("Preset names")),
            FieldRowPanel([FieldPanel(f"preset_{number}") for number in (4, 5, 6)]),
        ],
        base_form_class=DeviceAdminForm,
    )
    add_view_class = DeviceCreateView
    edit_view_class = DeviceEditView

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        return Device.objects.exclude(kind=DeviceKind.AGENT).select_related("room")


class ClassroomsViewSetGroup(SnippetViewSetGroup):
    menu_label = _("Classrooms")
    menu_icon = "calendar"
    menu_order = 250
    items = (LiveSessionViewSet, RoomViewSet, DeviceViewSet)


register_snippet(ClassroomsViewSetGroup)


class AuditLogMenuItem(MenuItem):
    """The audit log page (classrooms.views.alerts.audit_log), shown to administrators only. The log itself is no
    snippet: there is nothing to add, edit or delete."""

    def is_shown(self, request: HttpRequest) -> bool:
        return can_read_audit(user=request.user)


@hooks.register("register_admin_menu_item")
def register_audit_log_menu_item() -> MenuItem:
    return AuditLogMenuItem(_("Audit log"), reverse_lazy("classrooms:audit-log"), icon_name="list-ul", order=260)
