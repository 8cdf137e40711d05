"""What the invigilator's console posts: an action (pause, resume, extra time) or an incident, for one candidate or
the whole room, with its cause and explanation. The services check everything again before they write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from exams.invigilation import MAX_TEXT_LENGTH
from exams.models import ActionCause, ActionKind, IncidentCategory

# The candidate field's value for the whole room.
WHOLE_ROOM = "room"


class ConsoleActionForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=ActionKind.choices)
    # A candidate's id, or WHOLE_ROOM; the view finds the candidate in this sitting (anything else is not found).
    target = forms.CharField(label=_("Who"), max_length=20)
    minutes = forms.IntegerField(label=_("Extra time (minutes)"), required=False, min_value=1, max_value=180)
    cause = forms.ChoiceField(label=_("Cause"), choices=ActionCause.choices)
    explanation = forms.CharField(label=_("Explanation"), max_length=MAX_TEXT_LENGTH, strip=True)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("action") == ActionKind.EXTRA_TIME and not data.get("minutes"):
            self.add_error("minutes", _("Say how many minutes of extra time to give."))
        return data


class IncidentForm(forms.Form):
    target = forms.CharField(label=_("Who"), max_length=20)
    category = forms.ChoiceField(label=_("Category"), choices=IncidentCategory.choices)
    note = forms.CharField(label=_("What happened"), max_length=MAX_TEXT_LENGTH, strip=True)
