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


# Taking an exam (exams/attempts.py) ----------------------------------------------------------------------------------


def exam_taking_world(
    *, duration_minutes: int = 60, starts_in: Any = None, code: str | None = None, user: Any = None
) -> dict[str, Any]:
    """An exam of two single-choice questions and a short answer (one paper rule line each), a sitting starting in
    `starts_in` (default 5 minutes; registration open until the start) with a trainee registered, checked in by the
    room's invigilator, and the papers prepared."""
    from datetime import timedelta

    from exams import selectors, services
    from exams.models import PaperRule

    exam = ExamFactory.create(duration_minutes=duration_minutes, **({"code": code} if code else {}))
    QuestionFactory.create_batch(2, exam=exam)
    QuestionFactory.create(exam=exam, kind="short", topic="theory", text="Name the law of V = IR.", choices=[])
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=2)
    PaperRule.objects.create(exam=exam, kind="short", topic="theory", count=1)
    room = ExamRoomFactory.create()
    person = invigilator()
    room.invigilators.add(person)
    sitting_ = sitting(
        exam=exam,
        room=room,
        starts_in=starts_in if starts_in is not None else timedelta(minutes=5),
        closes_before=timedelta(0),
    )
    user = user or trainee()
    candidate = services.candidate_register(sitting=sitting_, user=user)
    services.candidate_check_in(sitting=sitting_, token=selectors.slip_token(candidate=candidate), by=person)
    services.paper_prepare(sitting=sitting_)
    candidate.refresh_from_db()
    return {
        "exam": exam,
        "sitting": sitting_,
        "invigilator": person,
        "trainee": user,
        "candidate": candidate,
        "paper": candidate.paper,
    }


# --- Exam marking (exams.marking) ------------------------------------------------------------------------------------


def marked_exam(*, second_marking: bool = False, tolerance: int = 1, pass_mark: int = 60) -> Exam:
    """An exam whose paper is two single-choice questions (2 marks each), one multiple-choice (2 marks) and one essay
    (10 marks): every candidate gets all four (order shuffled)."""
    from exams.models import PaperRule

    exam = ExamFactory.create(
        second_marking_required=second_marking, moderation_tolerance=tolerance, pass_mark=pass_mark
    )
    for text in ("First single?", "Second single?"):
        QuestionFactory.create(exam=exam, kind="single", text=text, marks=2, correct_choices=["a"])
    QuestionFactory.create(exam=exam, kind="multiple", text="Pick two?", marks=2, correct_choices=["a", "c"])
    QuestionFactory.create(
        exam=exam,
        kind="essay",
        topic="",
        text="Plan a hybrid class.",
        choices=[],
        correct_choices=[],
        model_answer="Rooms, roles, a fallback.",
        marks=10,
    )
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=2)
    PaperRule.objects.create(exam=exam, kind="multiple", topic="safety", count=1)
    PaperRule.objects.create(exam=exam, kind="essay", topic="", count=1)
    return exam


def past_sitting(*, exam: Exam, candidates: list[User], hours_ago: int = 3) -> Sitting:
    """A sitting that took place `hours_ago`, the candidates registered (before it closed) and their papers built."""
    from datetime import timedelta

    from exams import services

    sitting_ = sitting(exam=exam, starts_in=-timedelta(hours=hours_ago), seats=max(len(candidates), 1))
    for person in candidates:
        services.candidate_register(
            sitting=sitting_, user=person, now=sitting_.registration_closes_at - timedelta(hours=1)
        )
    services.paper_prepare(sitting=sitting_)
    return sitting_


def submit_paper_as_candidate(*, candidate: Any, answers: dict[str, Any]) -> Any:
    """The candidate takes their exam as the exam page does it (exams.attempts): checked in at the door (if they were
    not), started a minute into the sitting, the answers saved (by question text: a list of choice ids, or a text),
    then submitted. One transaction, so the time-up task queued at the start finds the paper already submitted."""
    from datetime import timedelta

    from django.db import transaction

    from exams import attempts, selectors, services

    sitting_ = candidate.sitting
    started_at = sitting_.starts_at + timedelta(minutes=1)
    with transaction.atomic():
        if candidate.checked_in_at is None:
            door = sitting_.room.invigilators.first() or invigilator()
            sitting_.room.invigilators.add(door)
            services.candidate_check_in(
                sitting=sitting_, token=selectors.slip_token(candidate=candidate), by=door, now=sitting_.starts_at
            )
        paper = attempts.attempt_start(candidate_id=candidate.pk, by=candidate.user, now=started_at)
        questions = {q.text: q.pk for q in Question.objects.filter(pk__in=[item["question"] for item in paper.items])}
        attempts.answers_save(
            paper_id=paper.pk,
            by=candidate.user,
            answers=[
                attempts.AnswerIn(
                    question=questions[text],
                    seq=seq,
                    choices=tuple(given) if isinstance(given, list) else (),
                    text=given if isinstance(given, str) else "",
                )
                for seq, (text, given) in enumerate(answers.items(), start=1)
            ],
            now=started_at + timedelta(minutes=1),
        )
        return attempts.paper_submit(paper_id=paper.pk, by=candidate.user, now=started_at + timedelta(minutes=2))


def exam_marker(exam: Exam, **kwargs: Any) -> User:
    """An instructor named as one of the exam's markers."""
    person = instructor(**kwargs)
    exam.markers.add(person)
    return person


def exam_moderator(exam: Exam, **kwargs: Any) -> User:
    person = instructor(**kwargs)
    exam.moderators.add(person)
    return person


# --- Live check-ins (internships, issue 16 item 11) -------------------------------------------------------------------


def check_in_course(placement: Any) -> CoursePage:
    """Give the placement's internship a course for its live check-ins (a course with one lesson); returns it."""
    course = course_with_lessons(site_catalogue(), modules=1, lessons=1)
    internship = placement.internship
    internship.course = course
    internship.save(update_fields=["course"])
    return course
