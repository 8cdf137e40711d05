"""The forms of the internship pages: views check them with `lms.forms.form_checked` before calling a service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import CoursePage
from internships import selectors
from internships.models import EVALUATION_CRITERIA, HostCompany, Internship, TaskStatus
from lms.accounts.models import Region, User

DAY_LABELS = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


class HostCompanyForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200)
    city = forms.ChoiceField(label=_("City"), choices=Region.choices)
    address = forms.CharField(label=_("Address"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class InternshipForm(forms.Form):
    company = forms.ModelChoiceField(label=_("Host company"), queryset=HostCompany.objects.all())
    title = forms.CharField(label=_("Internship title"), max_length=200)
    start = forms.DateField(label=_("Start"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("End"), widget=forms.DateInput(attrs={"type": "date"}))
    target_hours_per_week = forms.IntegerField(label=_("Target hours per week"), min_value=1, max_value=60, initial=20)
    course = forms.ModelChoiceField(
        label=_("Course for live check-ins"),
        queryset=CoursePage.objects.none(),
        required=False,
        help_text=_("Supervisors' live check-ins with their interns are held under this course."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        course = self.fields["course"]
        assert isinstance(course, forms.ModelChoiceField)
        course.queryset = CoursePage.objects.live().order_by("title")


def _person_label(user: User) -> str:
    return f"{user.get_full_name()} <{user.email}>"


class PlacementForm(forms.Form):
    internship = forms.ModelChoiceField(label=_("Internship"), queryset=Internship.objects.select_related("company"))
    intern = forms.ModelChoiceField(label=_("Intern (a trainee)"), queryset=User.objects.none())
    supervisor_email = forms.EmailField(label=_("Supervisor's email"))
    supervisor_first_name = forms.CharField(label=_("Supervisor's first name"), max_length=150)
    supervisor_last_name = forms.CharField(label=_("Supervisor's last name"), max_length=150, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        intern = self.fields["intern"]
        assert isinstance(intern, forms.ModelChoiceField)
        intern.queryset = selectors.trainees()
        intern.label_from_instance = _person_label  # type: ignore[method-assign,assignment]


class SignInLinkForm(forms.Form):
    email = forms.EmailField(label=_("Your email"))


class WeekLogForm(forms.Form):
    week_start = forms.DateField(label=_("Week of (Monday)"), widget=forms.DateInput(attrs={"type": "date"}))
    done = forms.CharField(label=_("What I did"), widget=forms.Textarea(attrs={"rows": 4}))
    blockers = forms.CharField(label=_("Blockers"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index, label in enumerate(DAY_LABELS):
            self.fields[f"hours_{index}"] = forms.DecimalField(
                label=label, min_value=0, max_value=24, decimal_places=1, required=False, initial=0
            )

    def daily_hours(self) -> list[Any]:
        return [self.cleaned_data.get(f"hours_{index}") or 0 for index in range(7)]

    def day_fields(self) -> list[forms.BoundField]:
        return [self[f"hours_{index}"] for index in range(7)]


class LogFileForm(forms.Form):
    file = forms.FileField(label=_("Attach a file"))


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    description = forms.CharField(label=_("Details"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    deadline = forms.DateField(label=_("Deadline"), widget=forms.DateInput(attrs={"type": "date"}))


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=TaskStatus.choices)


class ApproveForm(forms.Form):
    logs = forms.TypedMultipleChoiceField(label=_("Weeks"), coerce=int, choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the service refuses the whole set unless every week is the approver's.
        values = self.data.getlist("logs") if hasattr(self.data, "getlist") else []
        self.fields["logs"].choices = [(value, value) for value in values]  # type: ignore[attr-defined]


SCORE_CHOICES = [(str(value), str(value)) for value in range(1, 6)]


class EvaluationForm(forms.Form):
    """Every criterion scored 1-5 with a comment, a summary; the final evaluation also passes or fails."""

    summary = forms.CharField(label=_("Overall"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, final: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label in EVALUATION_CRITERIA:
            self.fields[f"score_{key}"] = forms.TypedChoiceField(
                label=label, choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
            )
            self.fields[f"comment_{key}"] = forms.CharField(
                label=_("Comment on %(criterion)s") % {"criterion": label}, max_length=2000, required=False
            )
        if final:
            self.fields["verdict"] = forms.ChoiceField(
                label=_("The internship is"),
                choices=[("passed", _("Passed")), ("failed", _("Not passed"))],
                widget=forms.RadioSelect,
            )

    def criteria(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"score_{key}"], self[f"comment_{key}"]) for key, _label in EVALUATION_CRITERIA]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        verdict = data.get("verdict")
        return {
            "scores": {key: data[f"score_{key}"] for key, _label in EVALUATION_CRITERIA},
            "comments": {key: data[f"comment_{key}"] for key, _label in EVALUATION_CRITERIA},
            "summary": data["summary"],
            "passed": None if verdict is None else verdict == "passed",
        }


class CheckInForm(forms.Form):
    held_on = forms.DateField(label=_("Held on"), widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


CHECK_IN_LENGTHS = [(15, _("15 minutes")), (30, _("30 minutes")), (45, _("45 minutes")), (60, _("1 hour"))]


class CheckInScheduleForm(forms.Form):
    """A live check-in's day, time (on the supervisor's city's clock) and length."""

    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}))
    minutes = forms.TypedChoiceField(label=_("Length"), choices=CHECK_IN_LENGTHS, coerce=int, initial=30)

    def starts_at(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.cleaned_data["day"], self.cleaned_data["time"], tzinfo=zone)


class CheckInNotesForm(forms.Form):
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
