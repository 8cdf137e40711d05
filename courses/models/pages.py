"""The catalogue's page tree: catalogue index → course → module → lesson."""

from typing import Any

from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from courses.blocks import LessonBodyBlock


class Category(models.TextChoices):
    DIGITAL = "digital", _("Digital skills")
    LEADERSHIP = "leadership", _("Leadership")
    LANGUAGE = "language", _("Language")
    OPERATIONS = "operations", _("Operations")
    SAFETY = "safety", _("Safety")


class Level(models.TextChoices):
    BEGINNER = "beginner", _("Beginner")
    INTERMEDIATE = "intermediate", _("Intermediate")
    ADVANCED = "advanced", _("Advanced")


class CourseKind(models.TextChoices):
    """What a course is for (issue 16): a trade, a language and its culture, an exam ahead, a certification."""

    VOCATIONAL = "vocational", _("Vocational")
    LANGUAGE_CULTURE = "language_culture", _("Language and culture")
    PREPARATORY = "preparatory", _("Preparatory")
    CERTIFICATION = "certification", _("Certification")


class CatalogueIndexPage(Page):
    """The public catalogue: search, filters and pages of courses."""

    intro = models.TextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["courses.CoursePage"]
    page_size = 12

    class Meta:
        verbose_name = _("course catalogue")

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from courses import selectors

        context = super().get_context(request, *args, **kwargs)
        context.update(selectors.catalogue_page(catalogue=self, request=request))
        return context


class CoursePage(Page):
    code = models.CharField(_("course code"), max_length=32)
    summary = models.TextField(_("summary"))
    kind = models.CharField(
        _("kind of course"),
        max_length=24,
        choices=CourseKind.choices,
        default=CourseKind.VOCATIONAL,
        help_text=_("A preparatory course names the exam it prepares for on the exam's own form (Exam centre)."),
    )
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.BEGINNER)
    duration_hours = models.PositiveIntegerField(_("duration (hours)"), default=8)
    delivered_in_singapore_room = models.BooleanField(_("Singapore room"), default=True)
    delivered_in_chongqing_room = models.BooleanField(_("Chongqing room"), default=True)
    delivered_online = models.BooleanField(_("Online"), default=True)
    taught_in_english = models.BooleanField(_("English"), default=True)
    taught_in_chinese = models.BooleanField(_("Simplified Chinese"), default=False)
    prerequisites = ParentalManyToManyField(
        "courses.CoursePage", blank=True, related_name="required_by", verbose_name=_("prerequisites")
    )
    capacity = models.PositiveIntegerField(_("capacity"), default=30, help_text=_("Seats across all rooms and online."))
    cohort = models.ForeignKey(
        "accounts.Cohort",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="restricted_courses",
        verbose_name=_("restricted to cohort"),
        help_text=_("Leave empty for a course open to everyone."),
    )

    content_panels = [
        *Page.content_panels,
        FieldRowPanel([FieldPanel("code"), FieldPanel("kind"), FieldPanel("category"), FieldPanel("level")]),
        FieldPanel("summary"),
        FieldRowPanel([FieldPanel("duration_hours"), FieldPanel("capacity")]),
        MultiFieldPanel(
            [
                FieldPanel("delivered_in_singapore_room"),
                FieldPanel("delivered_in_chongqing_room"),
                FieldPanel("delivered_online"),
            ],
            heading=_("Delivery modes"),
        ),
        MultiFieldPanel([FieldPanel("taught_in_english"), FieldPanel("taught_in_chinese")], heading=_("Languages")),
        FieldPanel("prerequisites"),
        FieldPanel("cohort"),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("code", boost=3),
        index.AutocompleteField("code"),
        index.SearchField("summary"),
        index.FilterField("kind"),
        index.FilterField("category"),
        index.FilterField("level"),
        index.FilterField("delivered_in_singapore_room"),
        index.FilterField("delivered_in_chongqing_room"),
        index.FilterField("delivered_online"),
        index.FilterField("taught_in_english"),
        index.FilterField("taught_in_chinese"),
        index.FilterField("cohort"),
    ]
    parent_page_types = ["courses.CatalogueIndexPage"]
    subpage_types = ["courses.ModulePage"]

    class Meta:
        verbose_name = _("course")

    def delivery_modes(self) -> list[str]:
        """Labels of the ways this course is delivered, in the active language."""
        flags = [
            (self.delivered_in_singapore_room, _("Singapore room")),
            (self.delivered_in_chongqing_room, _("Chongqing room")),
            (self.delivered_online, _("Online")),
        ]
        return [str(label) for on, label in flags if on]

    def languages(self) -> list[str]:
        flags = [(self.taught_in_english, _("English")), (self.taught_in_chinese, _("Simplified Chinese"))]
        return [str(label) for on, label in flags if on]

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from courses import selectors

        if not selectors.course_is_visible_to(course=self, user=request.user):
            raise Http404
        return super().serve(request, *args, **kwargs)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from courses import selectors

        context = super().get_context(request, *args, **kwargs)
        context.update(selectors.course_page_details(course=self, user=request.user))
        return context


class ModulePage(Page):
    summary = models.TextField(_("summary"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("summary")]
    search_fields = [*Page.search_fields, index.SearchField("summary")]
    parent_page_types = ["courses.CoursePage"]
    subpage_types = ["courses.LessonPage"]

    class Meta:
        verbose_name = _("module")

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from courses import selectors

        course = selectors.course_of_page(page=self)
        if course is None or not selectors.course_is_visible_to(course=course, user=request.user):
            raise Http404
        request.corridor_course = course  # type: ignore[attr-defined]
        return super().serve(request, *args, **kwargs)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["course"] = getattr(request, "corridor_course", None)
        context["lessons"] = LessonPage.objects.child_of(self).live().specific(defer=True)
        return context


class LessonPage(Page):
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=20)
    body = StreamField(LessonBodyBlock(), verbose_name=_("lesson content"))

    content_panels = [*Page.content_panels, FieldPanel("duration_minutes"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("body")]
    parent_page_types = ["courses.ModulePage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("lesson")

    def quiz_blocks(self) -> dict[str, Any]:
        """The lesson's quizzes by block id (answer key included: server side only)."""
        return {block.id: block.value for block in self.body if block.block_type == "quiz"}

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from django.contrib import messages
        from django.shortcuts import redirect

        from courses import selectors

        course = selectors.course_of_page(page=self)
        if course is None or not selectors.course_is_visible_to(course=course, user=request.user):
            raise Http404
        if not selectors.lesson_is_open_to(course=course, user=request.user):
            messages.info(request, _("Enrol in this course to open its lessons."))
            return redirect(course.url)
        request.corridor_course = course  # type: ignore[attr-defined]
        return super().serve(request, *args, **kwargs)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from courses import selectors

        context = super().get_context(request, *args, **kwargs)
        course = getattr(request, "corridor_course", None)
        context["course"] = course
        if course is not None:
            context.update(selectors.lesson_page_details(lesson=self, course=course, user=request.user))
        return context
