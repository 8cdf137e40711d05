from .learning import Enrolment, LessonCompletion, QuizAttempt
from .pages import CatalogueIndexPage, Category, CoursePage, LessonPage, Level, ModulePage

__all__ = [
    "CatalogueIndexPage",
    "Category",
    "CoursePage",
    "Enrolment",
    "LessonCompletion",
    "LessonPage",
    "Level",
    "ModulePage",
    "QuizAttempt",
]
