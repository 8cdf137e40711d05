"""Rooms and live sessions in the Wagtail admin: instructors schedule, administrators manage rooms."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.panels import FieldPanel, FieldRowPanel, ObjectList
from wagtail.admin.ui.tables import Column
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from classrooms.forms import LiveSessionAdminForm, RoomAdminForm
from classrooms.models import LiveSession, Room
from lms.accounts.models import Region, User
from lms.accounts.roles import Role
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
        ],
        base_form_class=LiveSessionAdminForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveSession]:
        return LiveSession.objects.select_related("course", "instructor").prefetch_related("rooms")


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


class ClassroomsViewSetGroup(SnippetViewSetGroup):
    menu_label = _("Classrooms")
    menu_icon = "calendar"
    menu_order = 250
    items = (LiveSessionViewSet, RoomViewSet)


register_snippet(ClassroomsViewSetGroup)
