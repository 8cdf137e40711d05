from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from courses.models import Category, CourseKind, Level


class CatalogueFilterForm(forms.Form):
    LANGUAGE_FIELDS = {"en": "taught_in_english", "zh-hans": "taught_in_chinese"}
    DELIVERY_FIELDS = {
        "singapore": "delivered_in_singapore_room",
        "chongqing": "delivered_in_chongqing_room",
        "online": "delivered_online",
    }

    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    kind = forms.ChoiceField(
        required=False, choices=[("", _("All kinds of course")), *CourseKind.choices], label=_("Kind of course")
    )
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


class QuizAnswersForm(forms.Form):
    """A quiz's posted answers, `question-<question id>` = `<choice id>`: one short id for each question.

    Whether the ids are the quiz's own, and every question answered, is the service's check: it holds the answer key.
    """

    PREFIX = "question-"
    MAX_ANSWERS = 200
    MAX_ID_LENGTH = 64

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        answers: dict[str, str] = {}
        for key in self.data:
            if not key.startswith(self.PREFIX):
                continue
            values = self.data.getlist(key) if isinstance(self.data, QueryDict) else [self.data[key]]
            question_id = key.removeprefix(self.PREFIX)
            if len(values) != 1:
                raise ValidationError(_("Give one answer to each question."), code="several_answers")
            choice_id = str(values[0])
            if not question_id or len(question_id) > self.MAX_ID_LENGTH or len(choice_id) > self.MAX_ID_LENGTH:
                raise ValidationError(_("An answer is not one of its question's choices."), code="invalid_answer")
            answers[question_id] = choice_id
        if len(answers) > self.MAX_ANSWERS:
            raise ValidationError(_("An answer refers to a question that is not in this quiz."), code="invalid_answer")
        cleaned["answers"] = answers
        return cleaned

    def answers(self) -> dict[str, str]:
        """Question id to choice id; call after `is_valid()`."""
        answers: dict[str, str] = self.cleaned_data["answers"]
        return answers
