"""The exam centre in the Wagtail admin (administrators): exams, their question banks and paper rules, exam rooms
with their invigilators, and sittings (scheduled through the services: `SittingAdminForm`)."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import Column
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from exams.forms import ExamAdminForm, ExamRoomAdminForm, SittingAdminForm
from exams.models import Exam, ExamRoom, PaperRule, Question, Sitting
from lms.timezones import SCHEDULING_TIME_ZONE


def _sitting_time(sitting: Sitting) -> str:
    starts = timezone.localtime(sitting.starts_at, SCHEDULING_TIME_ZONE)
    ends = timezone.localtime(sitting.ends_at, SCHEDULING_TIME_ZONE)
    return f"{starts:%Y-%m-%d %H:%M}–{ends:%H:%M}"


class ExamViewSet(SnippetViewSet):
    model = Exam
    icon = "doc-full"
    menu_label = _("Exams")
    list_display = ["code", "title", "duration_minutes", "pass_mark"]
    search_fields = ["code", "title", "title_zh"]
    edit_handler = ObjectList(
        [
            FieldRowPanel([FieldPanel("code"), FieldPanel("duration_minutes"), FieldPanel("pass_mark")]),
            FieldPanel("title"),
            FieldPanel("title_zh"),
            FieldPanel("instructions"),
            FieldPanel("instructions_zh"),
            FieldPanel("preparatory_courses", widget=forms.CheckboxSelectMultiple),
            FieldPanel("requires_preparatory_course"),
            MultiFieldPanel(
                [
                    FieldPanel("markers", widget=forms.CheckboxSelectMultiple),
                    FieldPanel("moderators", widget=forms.CheckboxSelectMultiple),
                    FieldRowPanel([FieldPanel("second_marking_required"), FieldPanel("moderation_tolerance")]),
                ],
                heading=_("Marking"),
            ),
        ],
        base_form_class=ExamAdminForm,
    )


class QuestionViewSet(SnippetViewSet):
    model = Question
    icon = "help"
    menu_label = _("Question bank")
    list_display = [
        Column("exam", label=_("Exam"), accessor="exam.code"),
        "kind",
        "topic",
        Column("text", label=_("Question"), accessor=lambda q: q.text[:80]),
        "marks",
    ]
    list_filter = ["exam", "kind"]
    search_fields = ["text", "text_zh", "topic"]
    edit_handler = ObjectList(
        [
            FieldRowPanel(
                [FieldPanel("exam", widget=forms.Select), FieldPanel("kind"), FieldPanel("topic"), FieldPanel("marks")]
            ),
            FieldPanel("text"),
            FieldPanel("text_zh"),
            FieldPanel(
                "choices",
                help_text=_('Choice questions: [{"id": "a", "text": "…", "text_zh": "…"}, …]. Empty otherwise.'),
            ),
            FieldPanel("correct_choices", help_text=_('The ids of the right choices, e.g. ["a"].')),
            FieldPanel("model_answer"),
        ]
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Question]:
        return Question.objects.select_related("exam")


class PaperRuleViewSet(SnippetViewSet):
    model = PaperRule
    icon = "list-ol"
    menu_label = _("Paper rules")
    list_display = [Column("exam", label=_("Exam"), accessor="exam.code"), "kind", "topic", "count"]
    list_filter = ["exam"]
    edit_handler = ObjectList(
        [
            FieldRowPanel(
                [FieldPanel("exam", widget=forms.Select), FieldPanel("kind"), FieldPanel("topic"), FieldPanel("count")]
            )
        ]
    )


class ExamRoomViewSet(SnippetViewSet):
    model = ExamRoom
    icon = "home"
    menu_label = _("Exam rooms")
    list_display = ["name", "city", "seats"]
    list_filter = ["city"]
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldRowPanel([FieldPanel("city"), FieldPanel("seats")]),
            FieldPanel("classroom", widget=forms.Select),
            FieldPanel("invigilators", widget=forms.CheckboxSelectMultiple),
        ],
        base_form_class=ExamRoomAdminForm,
    )


class SittingViewSet(SnippetViewSet):
    model = Sitting
    icon = "date"
    menu_label = _("Sittings")
    list_display = [
        Column("exam", label=_("Exam"), accessor="exam.code"),
        "room",
        Column("starts_at", label=_("When (UTC+8)"), accessor=_sitting_time, sort_key="starts_at"),
        "seats",
    ]
    list_filter = ["exam", "room"]
    ordering = ["-starts_at"]
    edit_handler = ObjectList(
        [
            FieldRowPanel([FieldPanel("exam", widget=forms.Select), FieldPanel("room", widget=forms.Select)]),
            FieldRowPanel([FieldPanel("starts_at"), FieldPanel("registration_closes_at")]),
            FieldPanel("seats"),
        ],
        base_form_class=SittingAdminForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sitting]:
        return Sitting.objects.select_related("exam", "room")


class ExamCentreGroup(SnippetViewSetGroup):
    menu_label = _("Exam centre")
    menu_icon = "doc-full"
    menu_order = 320
    items = (ExamViewSet, QuestionViewSet, PaperRuleViewSet, ExamRoomViewSet, SittingViewSet)


register_snippet(ExamCentreGroup)
