"""The admin's forms for the exam centre: sittings are scheduled through the services (clash and seat checks)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from classrooms.forms import CityDateTimeField
from courses.models import CourseKind, CoursePage
from exams import services
from exams.models import Sitting
from lms.accounts.models import User
from lms.accounts.roles import Role
from lms.errors import CorridorError


class SittingAdminForm(WagtailAdminModelForm):
    """Schedules or changes a sitting through `sitting_schedule` / `sitting_update`: a clash with another sitting in
    the exam room (or a live session in it, when it is also a classroom) or more seats than the room has is shown on
    the form and nothing is saved. The sitting lasts its exam's duration."""

    starts_at = CityDateTimeField(label=_("starts at"))
    registration_closes_at = CityDateTimeField(label=_("registration closes at"))

    ERROR_FIELDS = {
        "invalid_time": "registration_closes_at",
        "too_many_seats": "seats",
        "too_few_seats": "seats",
        "invalid_seats": "seats",
        "schedule_clash": "starts_at",
    }

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.errors:
            return data
        current: Sitting = getattr(self, "instance")  # noqa: B009 (django-stubs cannot type a form's instance)
        try:
            services.sitting_check(
                exam=data["exam"],
                room=data["room"],
                starts_at=data["starts_at"],
                seats=data["seats"],
                registration_closes_at=data["registration_closes_at"],
                exclude_id=current.pk,
            )
        except CorridorError as error:
            self.refusal_to_errors(error)
        return data

    def _get_validation_exclusions(self) -> set[str]:
        # ends_at is not on the form: the service sets it from the exam's duration.
        return {*super()._get_validation_exclusions(), "ends_at"}

    def save(self, commit: bool = True) -> Sitting:
        data = self.cleaned_data
        fields: dict[str, Any] = {
            "exam": data["exam"],
            "room": data["room"],
            "starts_at": data["starts_at"],
            "seats": data["seats"],
            "registration_closes_at": data["registration_closes_at"],
        }
        current: Sitting = getattr(self, "instance")  # noqa: B009
        saved = (
            services.sitting_schedule(**fields)
            if current.pk is None
            else services.sitting_update(sitting=current, **fields)
        )
        self.instance = saved
        return saved

    def refusal_to_errors(self, error: CorridorError) -> None:
        field = self.ERROR_FIELDS.get(error.code)
        self.add_error(field if field in self.fields else None, str(error.message))


class ExamRoomAdminForm(WagtailAdminModelForm):
    """Only invigilators (and whoever already invigilates the room) may be chosen as its invigilators."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "invigilators" in self.fields:
            current = list(self.instance.invigilators.values_list("pk", flat=True)) if self.instance.pk else []
            queryset = User.objects.filter(Q(groups__name=Role.INVIGILATOR.value) | Q(pk__in=current))
            self.fields["invigilators"].queryset = queryset.distinct().order_by("first_name", "last_name", "email")


class ExamAdminForm(WagtailAdminModelForm):
    """Only preparatory courses are offered (each language version; the exam's page shows the reader's own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "preparatory_courses" in self.fields:
            queryset = CoursePage.objects.filter(kind=CourseKind.PREPARATORY).order_by("title", "locale")
            self.fields["preparatory_courses"].queryset = queryset
        # Markers and moderators are staff: instructors, administrators, and whoever already marks the exam.
        staff = Q(groups__name__in=[Role.INSTRUCTOR.value, Role.ADMINISTRATOR.value]) | Q(is_superuser=True)
        for name in ("markers", "moderators"):
            if name in self.fields:
                current = list(getattr(self.instance, name).values_list("pk", flat=True)) if self.instance.pk else []
                queryset = User.objects.filter(staff | Q(pk__in=current)).distinct()
                self.fields[name].queryset = queryset.order_by("first_name", "last_name", "email")


class CheckInForm(forms.Form):
    """What the check-in page posts: the slip's QR payload (a scanner types it, or it is pasted), and whether the
    invigilator has confirmed the candidate's identity."""

    token = forms.CharField(label=_("Slip code"), max_length=500, strip=True)
    confirm = forms.BooleanField(required=False)
