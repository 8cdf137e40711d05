"""Forms of streaming's pages: where a session's recordings are stored."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lms.accounts.models import Region


class RecordingsRegionForm(forms.Form):
    """The region whose storage a session's recordings go to; empty: the site's rule (`rule_label` says which)."""

    region = forms.ChoiceField(label=_("Store this session's recordings in"), required=False)

    def __init__(self, *args: Any, rule_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        assert isinstance(region, forms.ChoiceField)
        region.choices = [("", rule_label), *Region.choices]
