from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import Category, Level


class CatalogueFilterForm(forms.Form):
    LANGUAGE_FIELDS = {"en": "taught_in_english", "zh-hans": "taught_in_chinese"}
    DELIVERY_FIELDS = {
        "singapore": "delivered_in_singapore_room",
        "chongqing": "delivered_in_chongqing_room",
        "online": "delivered_online",
    }

    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    category = forms.ChoiceField(
        required=False, choices=[("", _("All categories")), *Category.choices], label=_("Category")
    )
    level = forms.ChoiceField(required=False, choices=[("", _("All levels")), *Level.choices], label=_("Level"))
    language = forms.ChoiceField(
        required=False,
        choices=[("", _("Any language")), ("en", _("English")), ("zh-hans", _("Simplified Chinese"))],
        label=_("Language"),
    )
    delivery = forms.ChoiceField(
        required=False,
        choices=[
            ("", _("Any delivery")),
            ("singapore", _("Singapore room")),
            ("chongqing", _("Chongqing room")),
            ("online", _("Online")),
        ],
        label=_("Delivery"),
    )
