"""factory_boy factories for users and for the catalogue's page tree."""

from typing import Any, TypeVar

import factory
from django.contrib.auth.models import Group
from wagtail.models import Locale, Page
from wagtail.rich_text import RichText

from courses.models import CatalogueIndexPage, CoursePage, LessonPage, ModulePage
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
