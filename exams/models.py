"""The Chongqing exam centre: exams and their question banks, paper rules, exam rooms, sittings, candidates, papers."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from lms.accounts.models import Region


def _in_language(english: str, chinese: str) -> str:
    """The Chinese text on a Chinese page when there is one, the English otherwise."""
    if chinese and (get_language() or "").startswith("zh"):
        return chinese
    return english


class Exam(models.Model):
    """An exam of the centre; its preparatory courses lead to it, and its sittings are when and where it is taken."""

    code = models.CharField(_("exam code"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200, blank=True)
    instructions = models.TextField(_("instructions"), blank=True)
    instructions_zh = models.TextField(_("instructions (Chinese)"), blank=True)
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), default=90, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    pass_mark = models.PositiveSmallIntegerField(
        _("pass mark (%)"), default=60, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    preparatory_courses = models.ManyToManyField(
        "courses.CoursePage",
        blank=True,
        related_name="prepares_for_exams",
        verbose_name=_("preparatory courses"),
        help_text=_("Courses of the kind “preparatory” that prepare for this exam (any one language version)."),
    )
    requires_preparatory_course = models.BooleanField(
        _("preparatory course required"),
        default=False,
        help_text=_("Candidates must have completed one of the preparatory courses before they register."),
    )
    # Marking (exams.marking): who marks the written answers (short answers, essays), and how.
    markers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="exams_marked",
        verbose_name=_("markers"),
        help_text=_("They mark the written answers of this exam's scripts, which they see by candidate number only."),
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="exams_moderated",
        verbose_name=_("moderators"),
        help_text=_("They settle a written answer when its two markers disagree by more than the tolerance."),
    )
    second_marking_required = models.BooleanField(
        _("second marking required"),
        default=False,
        help_text=_("Every written answer is marked by two different markers; their mean is awarded."),
    )
    moderation_tolerance = models.PositiveSmallIntegerField(
        _("moderation tolerance (marks)"),
        default=1,
        help_text=_(
            "Two markers further apart than this many marks send the answer to a moderator, whose mark stands."
        ),
    )

    class Meta:
        verbose_name = _("exam")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.display_title}"

    @property
    def display_title(self) -> str:
        return _in_language(self.title, self.title_zh)

    @property
    def display_instructions(self) -> str:
        return _in_language(self.instructions, self.instructions_zh)


class QuestionKind(models.TextChoices):
    SINGLE_CHOICE = "single", _("Single choice")
    MULTIPLE_CHOICE = "multiple", _("Multiple choice")
    SHORT_ANSWER = "short", _("Short answer")
    ESSAY = "essay", _("Essay")


class Question(models.Model):
    """One question of an exam's bank. Choice questions keep their choices and the ids of the right ones."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="questions", verbose_name=_("exam"))
    kind = models.CharField(_("kind"), max_length=16, choices=QuestionKind.choices)
    topic = models.CharField(_("topic"), max_length=80, blank=True)
    text = models.TextField(_("question"))
    text_zh = models.TextField(_("question (Chinese)"), blank=True)
    # [{"id": "a", "text": "…", "text_zh": "…"}, …] for choice questions; empty otherwise.
    choices = models.JSONField(_("choices"), default=list, blank=True)
    # The ids of the right choices (one for single choice); a model answer for markers otherwise.
    correct_choices = models.JSONField(_("correct choices"), default=list, blank=True)
    model_answer = models.TextField(_("model answer (for markers)"), blank=True)
    marks = models.PositiveSmallIntegerField(_("marks"), default=1, validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("exam question")
        ordering = ["exam", "topic", "pk"]

    def __str__(self) -> str:
        return f"{self.exam.code} · {self.get_kind_display()} · {self.text[:60]}"

    @property
    def display_text(self) -> str:
        return _in_language(self.text, self.text_zh)


class PaperRule(models.Model):
    """One line of an exam's paper rule: this many questions of this kind (and topic, if given)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="paper_rules", verbose_name=_("exam"))
    kind = models.CharField(_("kind"), max_length=16, choices=QuestionKind.choices)
    topic = models.CharField(_("topic"), max_length=80, blank=True, help_text=_("Leave empty for any topic."))
    count = models.PositiveSmallIntegerField(_("number of questions"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("paper rule")
        ordering = ["exam", "pk"]
        constraints = [models.UniqueConstraint(fields=["exam", "kind", "topic"], name="one_paper_rule_per_kind_topic")]

    def __str__(self) -> str:
        topic = self.topic or _("any topic")
        return f"{self.exam.code}: {self.count} × {self.get_kind_display()} ({topic})"


class ExamRoom(models.Model):
    """A room of an exam centre, with its seats and the invigilators who run sittings in it."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    city = models.CharField(_("city"), max_length=16, choices=Region.choices, default=Region.CHONGQING)
    seats = models.PositiveIntegerField(_("seats"), default=30, validators=[MinValueValidator(1)])
    # A classroom also used for exams: its live sessions then clash with sittings, as sessions clash with each other.
    classroom = models.OneToOneField(
        "classrooms.Room",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exam_room",
        verbose_name=_("also a classroom"),
    )
    invigilators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="invigilated_rooms", verbose_name=_("invigilators")
    )

    class Meta:
        verbose_name = _("exam room")
        ordering = ["city", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_city_display()})"


class Sitting(models.Model):
    """An exam taken at one time in one exam room."""

    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="sittings", verbose_name=_("exam"))
    room = models.ForeignKey(ExamRoom, on_delete=models.PROTECT, related_name="sittings", verbose_name=_("exam room"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    seats = models.PositiveIntegerField(_("seats offered"), validators=[MinValueValidator(1)])
    registration_closes_at = models.DateTimeField(_("registration closes at"))
    # Set when every registered candidate's paper has been built (exams.tasks.prepare_papers).
    papers_prepared_at = models.DateTimeField(_("papers prepared at"), null=True, blank=True, editable=False)
    # Set when an administrator released the results (exams.marking.results_release): candidates see them from then.
    results_released_at = models.DateTimeField(_("results released at"), null=True, blank=True, editable=False)
    results_released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("results released by"),
    )

    class Meta:
        verbose_name = _("sitting")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="sitting_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.exam.code} · {self.room.name} · {self.starts_at:%Y-%m-%d %H:%M} UTC"


class Candidate(models.Model):
    """A trainee registered for a sitting, with their seat (the admission slip shows it) and check-in."""

    sitting = models.ForeignKey(Sitting, on_delete=models.CASCADE, related_name="candidates", verbose_name=_("sitting"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exam_candidacies", verbose_name=_("trainee")
    )
    seat_number = models.PositiveIntegerField(_("seat number"))
    registered_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked in by"),
    )

    class Meta:
        verbose_name = _("candidate")
        ordering = ["sitting", "seat_number"]
        constraints = [
            models.UniqueConstraint(fields=["sitting", "user"], name="one_registration_per_sitting"),
            models.UniqueConstraint(fields=["sitting", "seat_number"], name="one_candidate_per_seat"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.sitting} · {self.seat_number}"

    @property
    def number(self) -> str:
        """The candidate number printed on the slip: sitting and seat, stable and unique."""
        return f"{self.sitting_id:04d}-{self.seat_number:03d}"


class SubmittedHow(models.TextChoices):
    CANDIDATE = "candidate", _("Submitted by the candidate")
    TIME_UP = "time_up", _("Submitted at time-up")
    INVIGILATOR = "invigilator", _("Submitted by an invigilator")


class Paper(models.Model):
    """A candidate's paper, built before the sitting: which questions, in which order, with choices in which order;
    and, once started, the candidate's attempt at it (their own clock, its pauses and extra time, its submission).

    `items` is [{"question": id, "choices": [choice id, …]}, …], drawn from the candidate's `seed`.
    The clock is the server's: exams.clock computes what is left from these fields."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="paper")
    seed = models.CharField(max_length=64)
    items = models.JSONField(default=list)
    prepared_at = models.DateTimeField(auto_now_add=True)

    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Extra time given by invigilators (to this candidate, or to the whole room, applied to each paper).
    extra_seconds = models.PositiveIntegerField(_("extra time (seconds)"), default=0)
    # Paused since (null when running) and the pauses already over, in seconds: paused time is not counted.
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_how = models.CharField(_("submitted"), max_length=16, choices=SubmittedHow.choices, blank=True)
    # When the candidate's answers last reached the server, and the highest save sequence applied: a save that
    # arrives again (a retry after a lost reply) or late (overtaken by a newer one) changes nothing.
    last_saved_at = models.DateTimeField(_("answers last reached the server"), null=True, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    # The candidate's exam page: connected now, and when it was last heard from (for "disconnected" on the console).
    # `open_pages` counts the connected exam pages (two tabs, or a second machine): closing one leaves the other.
    online = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    open_pages = models.PositiveSmallIntegerField(default=0)
    # The result (exams.marking), set once every answer is marked; the candidate sees it once the sitting's results
    # are released. `percent` is score / max_score, `passed` against the exam's pass mark.
    score = models.DecimalField(_("score"), max_digits=7, decimal_places=2, null=True, blank=True)
    max_score = models.PositiveIntegerField(_("out of"), null=True, blank=True)
    percent = models.DecimalField(_("percent"), max_digits=5, decimal_places=2, null=True, blank=True)
    passed = models.BooleanField(_("passed"), null=True, blank=True)
    marked_at = models.DateTimeField(_("fully marked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("paper")

    def __str__(self) -> str:
        return f"{self.candidate} ({len(self.items)})"


class Answer(models.Model):
    """A candidate's answer to one question of their paper, as last saved (choice ids, or text)."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    choices = models.JSONField(default=list, blank=True)
    text = models.TextField(blank=True)
    # The save sequence that wrote this answer (Paper.last_seq is the highest of the paper's).
    seq = models.PositiveBigIntegerField(default=0)
    saved_at = models.DateTimeField()
    # The marks the answer earned, once settled: at submission for choice questions, after marking (and second
    # marking, moderation) for written ones. Null while it waits for a marker.
    awarded = models.DecimalField(_("marks awarded"), max_digits=6, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("answer")
        constraints = [models.UniqueConstraint(fields=["paper", "question"], name="one_answer_per_question")]

    def __str__(self) -> str:
        return f"{self.paper_id} · {self.question_id}"


# Invigilation: the console's incident log and audited actions (append-only: no page edits or deletes them) ----------


class IncidentCategory(models.TextChoices):
    IDENTITY = "identity", _("Identity")
    MISCONDUCT = "misconduct", _("Suspected misconduct")
    TECHNICAL = "technical", _("Technical problem")
    HEALTH = "health", _("Health")
    DISTURBANCE = "disturbance", _("Disturbance")
    OTHER = "other", _("Other")


class Incident(models.Model):
    """Something an invigilator noted during a sitting, about one candidate or (no candidate) the whole room."""

    sitting = models.ForeignKey(Sitting, on_delete=models.CASCADE, related_name="incidents", verbose_name=_("sitting"))
    candidate = models.ForeignKey(
        Candidate,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("candidate"),
        help_text=_("Empty for the whole room."),
    )
    category = models.CharField(_("category"), max_length=16, choices=IncidentCategory.choices)
    note = models.TextField(_("note"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("incident")
        ordering = ["sitting", "recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.sitting_id} · {self.get_category_display()} · {self.recorded_at:%H:%M:%S}"


class ActionKind(models.TextChoices):
    PAUSE = "pause", _("Pause")
    RESUME = "resume", _("Resume")
    EXTRA_TIME = "extra_time", _("Extra time")


class ActionCause(models.TextChoices):
    HEALTH = "health", _("Health")
    TECHNICAL = "technical", _("Technical problem")
    DISTURBANCE = "disturbance", _("Disturbance")
    ACCESS_ARRANGEMENT = "access", _("Access arrangement")
    EMERGENCY = "emergency", _("Emergency (evacuation, alarm)")
    OTHER = "other", _("Other")


class InvigilationAction(models.Model):
    """An invigilator's pause, resume or extra time, for one candidate or (no candidate) the whole room: its cause
    and explanation, who and when. Written in the same transaction as the change to the papers."""

    sitting = models.ForeignKey(
        Sitting, on_delete=models.CASCADE, related_name="invigilation_actions", verbose_name=_("sitting")
    )
    candidate = models.ForeignKey(
        Candidate,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invigilation_actions",
        verbose_name=_("candidate"),
        help_text=_("Empty for the whole room."),
    )
    kind = models.CharField(_("action"), max_length=16, choices=ActionKind.choices)
    # Extra time given (0 for pause and resume).
    seconds = models.PositiveIntegerField(_("seconds"), default=0)
    cause = models.CharField(_("cause"), max_length=16, choices=ActionCause.choices)
    explanation = models.TextField(_("explanation"))
    # How many papers it changed (a room's action changes every paper it applies to).
    papers_changed = models.PositiveIntegerField(_("papers changed"), default=0)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("invigilation action")
        ordering = ["sitting", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.sitting_id} · {self.get_kind_display()} · {self.at:%H:%M:%S}"


class MarkStage(models.TextChoices):
    FIRST = "first", _("First marking")
    SECOND = "second", _("Second marking")
    MODERATION = "moderation", _("Moderation")


class Mark(models.Model):
    """A marker's marks for one written answer at one stage (first, second, moderation), with their comment."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="marks")
    marker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="exam_marks_given"
    )
    stage = models.CharField(_("stage"), max_length=16, choices=MarkStage.choices)
    marks = models.PositiveSmallIntegerField(_("marks"))
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("marked at"))

    class Meta:
        verbose_name = _("mark")
        ordering = ["answer", "at"]
        constraints = [models.UniqueConstraint(fields=["answer", "stage"], name="one_mark_per_answer_stage")]

    def __str__(self) -> str:
        return f"{self.answer_id} · {self.stage} · {self.marks}"
