"""What the certificate pages post (and the verification page asks), checked before a view hands it to a service.

Each form keeps the field names its template posts. Trainees, cohorts and users are chosen from querysets the view
passes in, so an id that is not one of them is refused here, not looked up later.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from exams.models import Exam
from lms.accounts.models import Cohort, User

SIGNATORY_MAX_LENGTH = 120
JUSTIFICATION_MAX_LENGTH = 2000
REASON_MAX_LENGTH = 1000
CODE_MAX_LENGTH = 40

_PERCENT_ERRORS = {
    "invalid": _("Percentages go from 0 to 100."),
    "min_value": _("Percentages go from 0 to 100."),
    "max_value": _("Percentages go from 0 to 100."),
}


class CertificateRuleForm(forms.Form):
    """A new version of a course's rule. An empty attendance share is 0; an empty pass mark, no final assessment."""

    min_attendance_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        label=_("Minimum share of live minutes attended (%)"),
        error_messages=_PERCENT_ERRORS,
    )
    require_all_modules = forms.BooleanField(required=False, label=_("Every module completed"))
    final_pass_mark = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        label=_("Final assessment pass mark (%), empty for none"),
        error_messages=_PERCENT_ERRORS,
    )
    require_internship = forms.BooleanField(
        required=False, label=_("A completed internship (final evaluation passed, every logged week approved)")
    )
    require_exam = forms.ModelChoiceField(
        queryset=Exam.objects.order_by("code"),
        required=False,
        label=_("An exam passed (its released result at or above the exam's pass mark)"),
        error_messages={"invalid_choice": _("Choose one of the exam centre's exams.")},
    )
    signatory_en = forms.CharField(required=False, max_length=SIGNATORY_MAX_LENGTH, label=_("Signatory (English)"))
    signatory_zh = forms.CharField(required=False, max_length=SIGNATORY_MAX_LENGTH, label=_("Signatory (Chinese)"))

    def rule_values(self) -> dict[str, Any]:
        """The keyword arguments of `certificate_rule_set` besides the course and who; call after `is_valid()`."""
        data = self.cleaned_data
        return {
            "min_attendance_percent": data["min_attendance_percent"] or 0,
            "require_all_modules": data["require_all_modules"],
            "final_pass_mark": data["final_pass_mark"],
            "require_internship": data["require_internship"],
            "require_exam": data["require_exam"],
            "signatory_en": data["signatory_en"],
            "signatory_zh": data["signatory_zh"],
        }


class IssueOneForm(forms.Form):
    """One trainee of the course, and a justification when they do not qualify (recorded on the certificate)."""

    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label=_("Trainee"),
        error_messages={"required": _("Choose a trainee."), "invalid_choice": _("Choose a trainee of this course.")},
    )
    justification = forms.CharField(
        required=False,
        max_length=JUSTIFICATION_MAX_LENGTH,
        label=_("Justification (recorded on the certificate)"),
    )

    def __init__(self, *args: Any, trainees: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = trainees  # type: ignore[attr-defined]


def _cohort_choice() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Cohort.objects.all(),
        required=False,
        label=_("Cohort"),
        error_messages={"invalid_choice": _("Choose one of the cohorts.")},
    )


class BatchStartForm(forms.Form):
    """Issue to everyone who qualifies: of a cohort, or only the trainees ticked (none ticked: everyone)."""

    cohort = _cohort_choice()
    users = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Trainees"),
        error_messages={
            "invalid_choice": _("Choose trainees of this course."),
            "invalid_pk_value": _("Choose trainees of this course."),
        },
    )

    def __init__(self, *args: Any, trainees: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = trainees  # type: ignore[attr-defined]

    def user_ids(self) -> list[int] | None:
        """The ticked trainees' ids, or None when none were ticked; call after `is_valid()`."""
        picked = self.cleaned_data["users"]
        return [user.pk for user in picked] if picked else None


class CohortFilterForm(forms.Form):
    """The eligibility report's filter (GET): a cohort, or everyone enrolled."""

    cohort = _cohort_choice()


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        label=_("Reason (verifiers will see it)"),
        error_messages={"required": _("Say why the certificate is revoked: verifiers will see it.")},
    )


class VerifyCodeForm(forms.Form):
    """The code someone types to check a certificate (GET); empty shows the form."""

    code = forms.CharField(
        required=False,
        max_length=CODE_MAX_LENGTH,
        label=_("Certificate code"),
        # The characters the verification URL takes (certificates.urls), so the redirect always resolves.
        validators=[
            RegexValidator(r"\A[A-Za-z0-9-]+\Z", _("A certificate code has only letters, digits and hyphens."))
        ],
    )

    def clean_code(self) -> str:
        return str(self.cleaned_data["code"]).upper()
