"""Remote internships: host companies, internships, placements (an intern, a company supervisor, a coordinator),
the intern's weekly logbook with its files, and the tasks the supervisor sets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lms.accounts.models import Region


class HostCompany(models.Model):
    name = models.CharField(_("name"), max_length=200)
    city = models.CharField(_("city"), max_length=16, choices=Region.choices, default=Region.SINGAPORE)
    address = models.TextField(_("address"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("host company")
        verbose_name_plural = _("host companies")

    def __str__(self) -> str:
        return self.name


class Internship(models.Model):
    title = models.CharField(_("title"), max_length=200)
    company = models.ForeignKey(HostCompany, on_delete=models.PROTECT, related_name="internships")
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    target_hours_per_week = models.PositiveSmallIntegerField(_("target hours per week"), default=20)
    # The course its interns' live check-ins are held under (a live session belongs to a course); without one, the
    # supervisors record check-ins held elsewhere but cannot schedule one on the live page.
    course = models.ForeignKey(
        "courses.CoursePage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("course for live check-ins"),
    )

    class Meta:
        ordering = ["-start", "title"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="internship_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.company})"


class Placement(models.Model):
    """One intern (a trainee) on one internship, followed by one company supervisor and a consortium coordinator."""

    internship = models.ForeignKey(Internship, on_delete=models.PROTECT, related_name="placements")
    intern = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="placements")
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="supervised_placements"
    )
    coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coordinated_placements"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["internship__start", "pk"]
        constraints = [models.UniqueConstraint(fields=["internship", "intern"], name="one_placement_per_intern")]

    def __str__(self) -> str:
        return f"{self.intern} · {self.internship}"


class WeekLog(models.Model):
    """The intern's log of one week (Monday to Sunday): hours per day, what was done, what blocked them."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="week_logs")
    week_start = models.DateField(_("week of"))  # a Monday
    daily_hours = models.JSONField(default=list)  # seven numbers, Monday first
    total_hours = models.DecimalField(max_digits=5, decimal_places=1, default=0)
    done = models.TextField(_("what I did"), blank=True)
    blockers = models.TextField(_("blockers"), blank=True)
    submitted_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-week_start"]
        constraints = [models.UniqueConstraint(fields=["placement", "week_start"], name="one_log_per_week")]

    def __str__(self) -> str:
        return f"{self.placement} · {self.week_start.isoformat()}"


class LogFile(models.Model):
    """A file attached to a week's log, stored in the intern's home region (lms/regions.py)."""

    week_log = models.ForeignKey(WeekLog, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=300, unique=True)
    storage_region = models.CharField(max_length=16, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.filename


class TaskStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")


class InternTask(models.Model):
    """A task the supervisor sets an intern, with a deadline; the intern moves its status."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    deadline = models.DateField(_("deadline"))
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.TODO)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deadline", "pk"]

    def __str__(self) -> str:
        return self.title


class LogReminder(models.Model):
    """One reminder emailed for one missing week's log (so each week is reminded once)."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="reminders")
    week_start = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["placement", "week_start"], name="one_reminder_per_week")]

    def __str__(self) -> str:
        return f"{self.placement} · {self.week_start.isoformat()}"


class EvaluationKind(models.TextChoices):
    MIDTERM = "midterm", _("Mid-term evaluation")
    FINAL = "final", _("Final evaluation")
    SELF = "self", _("Self-evaluation")


# What every evaluation scores, 1 (poor) to 5 (excellent), each with a comment.
EVALUATION_CRITERIA: list[tuple[str, Any]] = [
    ("quality", _("Quality of work")),
    ("initiative", _("Initiative")),
    ("communication", _("Communication")),
    ("reliability", _("Reliability and punctuality")),
    ("skills", _("Technical skills")),
]


class Evaluation(models.Model):
    """A mid-term or final evaluation by the supervisor, or the intern's self-evaluation: each criterion scored 1-5
    with a comment. The final one says whether the internship is passed. Once submitted it does not change."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="evaluations")
    kind = models.CharField(max_length=16, choices=EvaluationKind.choices)
    scores = models.JSONField(default=dict)  # {criterion: 1..5}
    comments = models.JSONField(default=dict)  # {criterion: text}
    summary = models.TextField(blank=True)
    passed = models.BooleanField(null=True, blank=True)  # the final evaluation's verdict
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["placement", "kind"], name="one_evaluation_of_each_kind")]

    def __str__(self) -> str:
        return f"{self.placement} · {self.kind}"

    def rows(self) -> list[tuple[Any, int | None, str]]:
        """(criterion label, score, comment) in the criteria's order, for pages."""
        return [(label, self.scores.get(key), self.comments.get(key, "")) for key, label in EVALUATION_CRITERIA]

    @property
    def average(self) -> float | None:
        values = [int(value) for value in self.scores.values()]
        return round(sum(values) / len(values), 1) if values else None


class LiveCheckIn(models.Model):
    """A one-to-one check-in the supervisor scheduled with their intern as a live session without a room
    (classrooms.LiveSession, one-to-one with the intern, the supervisor its instructor): both join its live page."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="live_check_ins")
    session = models.OneToOneField(
        "classrooms.LiveSession", on_delete=models.CASCADE, related_name="internship_check_in"
    )
    scheduled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session__starts_at", "pk"]

    def __str__(self) -> str:
        return f"{self.placement} · {self.session.starts_at.isoformat()}"


class CheckIn(models.Model):
    """A one-to-one check-in the supervisor held with an intern (a call, a visit, a live check-in), recorded with
    notes."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="check_ins")
    # The live check-in these are the notes of (one set of notes each), if it was held on the live page.
    live = models.OneToOneField(LiveCheckIn, on_delete=models.SET_NULL, null=True, blank=True, related_name="notes")
    held_on = models.DateField(_("held on"))
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.placement} · {self.held_on.isoformat()}"
