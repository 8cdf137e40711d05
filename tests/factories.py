"""factory_boy factories for users and for the catalogue's page tree."""

from typing import Any, TypeVar

import factory
from django.contrib.auth.models import Group
from wagtail.models import Locale, Page
from wagtail.rich_text import RichText

from courses.models import CatalogueIndexPage, CoursePage, LessonPage, ModulePage
from exams.models import Exam, ExamRoom, Question, Sitting
from lms.accounts.models import Cohort, User
from lms.accounts.roles import Role

PASSWORD = "a-test-password"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@corridor.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(user: User, create: bool, extracted: Role | None, **kwargs: Any) -> None:
        # factory_boy passes the user just built, not the factory: hence `user`, not `self`.
        if create and extracted is not None:
            user.groups.add(Group.objects.get(name=extracted.value))
        if create:
            user.save()


def trainee(**kwargs: Any) -> User:
    return UserFactory.create(role=Role.TRAINEE, **kwargs)


def instructor(**kwargs: Any) -> User:
    return UserFactory.create(role=Role.INSTRUCTOR, **kwargs)


def administrator(**kwargs: Any) -> User:
    return UserFactory.create(role=Role.ADMINISTRATOR, **kwargs)


def operator(**kwargs: Any) -> User:
    return UserFactory.create(role=Role.OPERATOR, **kwargs)


class CohortFactory(factory.django.DjangoModelFactory[Cohort]):
    class Meta:
        model = Cohort

    name = factory.Sequence(lambda n: f"Cohort {n}")


PageT = TypeVar("PageT", bound=Page)


class PageFactory(factory.Factory[PageT]):
    """Creates a page under `parent` (and publishes it unless live=False)."""

    class Meta:
        abstract = True

    # A subclass may give a plain value instead of a sequence.
    title: str | factory.declarations.BaseDeclaration = factory.Sequence(lambda n: f"Page {n}")
    slug = factory.Sequence(lambda n: f"page-{n}")

    @classmethod
    def _create(cls, model_class: type[PageT], *args: Any, parent: Page, live: bool = True, **kwargs: Any) -> PageT:
        page = parent.add_child(instance=model_class(live=False, **kwargs))
        if live:
            page.save_revision().publish()
            page.refresh_from_db()
        return page


class CatalogueFactory(PageFactory[CatalogueIndexPage]):
    class Meta:
        model = CatalogueIndexPage

    title = "Course catalogue"
    slug = factory.Sequence(lambda n: f"catalogue-{n}")


class CourseFactory(PageFactory[CoursePage]):
    class Meta:
        model = CoursePage

    title = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")
    code = factory.Sequence(lambda n: f"T-{n:03d}")
    summary = "A course for tests."
    category = "digital"
    level = "beginner"
    capacity = 30


class ModuleFactory(PageFactory[ModulePage]):
    class Meta:
        model = ModulePage

    title = factory.Sequence(lambda n: f"Module {n}")
    slug = factory.Sequence(lambda n: f"module-{n}")


def quiz_block(*, pass_mark: int = 50) -> tuple[str, dict[str, Any]]:
    return (
        "quiz",
        {
            "title": "Quiz",
            "pass_mark": pass_mark,
            "questions": [
                {
                    "prompt": "Which cities?",
                    "choices": [
                        {"text": "Singapore and Chongqing", "is_correct": True},
                        {"text": "Paris and Rome", "is_correct": False},
                    ],
                    "explanation": "Corridor joins the Singapore and Chongqing rooms.",
                },
                {
                    "prompt": "Check the camera before class?",
                    "choices": [{"text": "Yes", "is_correct": True}, {"text": "No", "is_correct": False}],
                    "explanation": "",
                },
            ],
        },
    )


class LessonFactory(PageFactory[LessonPage]):
    class Meta:
        model = LessonPage

    title = factory.Sequence(lambda n: f"Lesson {n}")
    slug = factory.Sequence(lambda n: f"lesson-{n}")
    body = factory.LazyFunction(lambda: [("rich_text", RichText("<p>Lesson text.</p>"))])


def site_catalogue() -> CatalogueIndexPage:
    """The site's catalogue root in English (with a Chinese locale available), as the demo sets it up."""
    from lms.demo import ensure_catalogue, ensure_locales

    english, chinese = ensure_locales()
    catalogue, _ = ensure_catalogue(english, chinese)
    return catalogue


def course_with_lessons(
    catalogue: CatalogueIndexPage, *, modules: int = 2, lessons: int = 2, **course_kwargs: Any
) -> CoursePage:
    course = CourseFactory.create(parent=catalogue, **course_kwargs)
    for _ in range(modules):
        module = ModuleFactory.create(parent=course)
        for _ in range(lessons):
            LessonFactory.create(parent=module)
    return course


def chinese() -> Locale:
    return Locale.objects.get(language_code="zh-hans")


# --- Internships (issue 16) ---------------------------------------------------------------------------------------


def supervisor(**kwargs: Any) -> User:
    """A company supervisor: no password of their own (they sign in with emailed links)."""
    user = UserFactory.create(role=Role.SUPERVISOR, **kwargs)
    user.set_unusable_password()
    user.save()
    return user


def placement(
    *,
    intern: User | None = None,
    supervisor_user: User | None = None,
    coordinator: User | None = None,
    start: Any = None,
    weeks: int = 12,
    target_hours_per_week: int = 20,
    company_name: str = "Lion City Robotics",
) -> Any:
    """An intern (a trainee) placed with a company supervisor on an internship that started two weeks ago."""
    from datetime import timedelta

    from django.utils import timezone

    from internships.models import HostCompany, Internship, Placement

    start = start or timezone.localdate() - timedelta(days=14)
    company = HostCompany.objects.create(name=company_name, city="singapore", address="1 Fusionopolis Way")
    internship = Internship.objects.create(
        title="Automation intern",
        company=company,
        start=start,
        end=start + timedelta(weeks=weeks),
        target_hours_per_week=target_hours_per_week,
    )
    return Placement.objects.create(
        internship=internship,
        intern=intern or trainee(),
        supervisor=supervisor_user or supervisor(),
        coordinator=coordinator or administrator(),
    )


# --- Exam centre (exams) ---------------------------------------------------------------------------------------------


def invigilator(**kwargs: Any) -> User:
    return UserFactory.create(role=Role.INVIGILATOR, **kwargs)


class ExamFactory(factory.django.DjangoModelFactory[Exam]):
    class Meta:
        model = Exam

    code = factory.Sequence(lambda n: f"EX-{n:03d}")
    title = factory.Sequence(lambda n: f"Exam {n}")
    title_zh = factory.Sequence(lambda n: f"考试 {n}")
    duration_minutes = 60
    pass_mark = 60


class ExamRoomFactory(factory.django.DjangoModelFactory[ExamRoom]):
    class Meta:
        model = ExamRoom

    name = factory.Sequence(lambda n: f"Exam hall {n}")
    city = "chongqing"
    seats = 20


class QuestionFactory(factory.django.DjangoModelFactory[Question]):
    class Meta:
        model = Question

    exam = factory.SubFactory(ExamFactory)
    kind = "single"
    topic = "safety"
    text = factory.Sequence(lambda n: f"Question {n}?")
    choices = factory.LazyFunction(lambda: [{"id": c, "text": f"Choice {c}"} for c in "abcd"])
    correct_choices = factory.LazyFunction(lambda: ["a"])


def sitting(
    *, exam: Any = None, room: Any = None, starts_in: Any = None, seats: int = 10, closes_before: Any = None
) -> Sitting:
    """A sitting through the service (clash checks and all), starting in `starts_in` (default: 7 days)."""
    from datetime import timedelta

    from django.utils import timezone

    from exams import services

    starts_at = timezone.now().replace(microsecond=0) + (starts_in if starts_in is not None else timedelta(days=7))
    return services.sitting_schedule(
        exam=exam or ExamFactory.create(),
        room=room or ExamRoomFactory.create(),
        starts_at=starts_at,
        seats=seats,
        registration_closes_at=starts_at - (closes_before if closes_before is not None else timedelta(days=1)),
    )


# LTI (lti/) ----------------------------------------------------------------------------------------------------------


def lti_platform_registration(platform: Any, **overrides: Any) -> Any:
    """Register a test platform (tests/support/lti_platform.py) with Corridor, as an administrator would in the admin:
    its issuer, client id, deployment, endpoints, and its public key set pasted in (or its key set URL)."""
    from lti.models import Platform

    fields = {
        "name": "Polytechnic Moodle",
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_ids": platform.deployment_id,
        "auth_login_url": f"{platform.base_url or platform.issuer}/auth",
        "auth_token_url": f"{platform.base_url or platform.issuer}/token",
        "key_set": None if platform.base_url else platform.jwks(),
        "key_set_url": f"{platform.base_url}/jwks" if platform.base_url else "",
        **overrides,
    }
    return Platform.objects.create(**fields)


# --- Live check-ins (internships, issue 16 item 11) -------------------------------------------------------------------


def check_in_course(placement: Any) -> CoursePage:
    """Give the placement's internship a course for its live check-ins (a course with one lesson); returns it."""
    course = course_with_lessons(site_catalogue(), modules=1, lessons=1)
    internship = placement.internship
    internship.course = course
    internship.save(update_fields=["course"])
    return course
