"""A trainee's learning records.

Records are keyed by Wagtail's `translation_key`, so a course (or lesson) is
the same course in English and in Chinese: enrolling through either page is one
enrolment, and progress carries across languages.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Enrolment(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments")
    course_key = models.UUIDField(db_index=True, help_text="translation_key of the course")
    course = models.ForeignKey(
        "courses.CoursePage", on_delete=models.CASCADE, related_name="enrolments", help_text="the page enrolled through"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("enrolment")
        constraints = [models.UniqueConstraint(fields=["user", "course_key"], name="one_enrolment_per_course")]

    def __str__(self) -> str:
        return f"{self.user} → {self.course_id}"


class CourseTeacher(models.Model):
    """A person on a course's teaching team (in every language of it): an instructor of all its live sessions, as
    their own instructor is (they start, end and moderate them; classrooms.selectors.participants). An LTI launch
    as a platform course's Instructor puts them here (lti.services.launch_accept)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courses_taught")
    course_key = models.UUIDField(db_index=True, help_text="translation_key of the course")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("course teacher")
        constraints = [models.UniqueConstraint(fields=["user", "course_key"], name="one_teaching_per_course")]

    def __str__(self) -> str:
        return f"{self.user} teaches {self.course_key}"


class LessonCompletion(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_completions")
    course_key = models.UUIDField(db_index=True)
    lesson_key = models.UUIDField()
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson_key"], name="one_completion_per_lesson")]

    def __str__(self) -> str:
        return f"{self.user_id} completed {self.lesson_key}"


class QuizAttempt(models.Model):
    """One submission of one quiz. The score that counts is the last attempt's, or the first's (the quiz block says),
    never the best; a quiz allows a number of attempts with a wait between them (courses.selectors.quiz_rules)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    course_key = models.UUIDField(db_index=True)
    lesson_key = models.UUIDField()
    quiz_block_id = models.CharField(max_length=64)
    answers = models.JSONField(help_text="question id → chosen choice id")
    score = models.PositiveIntegerField()
    max_score = models.PositiveIntegerField()
    passed = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "lesson_key", "quiz_block_id"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.score}/{self.max_score} on {self.quiz_block_id}"
