from .learning import CourseTeacher, Enrolment, LessonCompletion, QuizAttempt
from .pages import CatalogueIndexPage, Category, CourseKind, CoursePage, LessonPage, Level, ModulePage

__all__ = [
    "CatalogueIndexPage",
    "Category",
    "CourseKind",
    "CoursePage",
    "CourseTeacher",
    "Enrolment",
    "LessonCompletion",
    "LessonPage",
    "Level",
    "ModulePage",
    "QuizAttempt",
]
