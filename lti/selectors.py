"""Reads for LTI: registered platforms, Corridor's published keys, and what a launch points at."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from django.urls import Resolver404, resolve

from classrooms.models import LiveSession
from courses.models import CoursePage, LessonPage
from courses.selectors import course_lessons, course_of_page
from lms.accounts.roles import Role, user_roles
from lti.keys import public_jwk
from lti.models import Platform, PlatformAccount, PlatformContext, RosterPull, ToolKey

CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
TARGET_LINK_URI_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"


def platform_for(*, issuer: str, client_id: str | None) -> Platform | None:
    """The registration for `issuer` and `client_id`; without a client id, the issuer's only registration."""
    platforms = Platform.objects.filter(issuer=issuer)
    if client_id:
        return platforms.filter(client_id=client_id).first()
    candidates = list(platforms[:2])
    return candidates[0] if len(candidates) == 1 else None


def published_keys() -> QuerySet[ToolKey]:
    return ToolKey.objects.filter(retired_at__isnull=True)


def tool_jwks() -> dict[str, list[dict[str, Any]]]:
    """Corridor's public keys that platforms may verify against (the current one first)."""
    return {"keys": [public_jwk(key.public_key_pem) for key in published_keys()]}


def course_for_key(course_key: Any) -> CoursePage | None:
    """The live course page (any translation, the original first) with this translation key."""
    return CoursePage.objects.live().filter(translation_key=course_key).order_by("pk").first()


def platform_contexts_for(user: Any) -> QuerySet[PlatformContext]:
    """The platform courses `user` may pull rosters of: those they launched from as an instructor; all of them for
    an administrator."""
    contexts = PlatformContext.objects.select_related("platform", "cohort").order_by("title", "pk")
    if Role.ADMINISTRATOR in user_roles(user):
        return contexts
    return contexts.filter(instructors=user)


def platform_context_for(*, user: Any, context_id: int) -> PlatformContext | None:
    """One of `platform_contexts_for(user)`, or None (another's, or a forged id)."""
    return platform_contexts_for(user).filter(pk=context_id).first()


def roster_pull_latest(context: PlatformContext) -> RosterPull | None:
    return context.pulls.order_by("-created_at", "-pk").first()


def account_for(*, platform: Platform, sub: str) -> PlatformAccount | None:
    return PlatformAccount.objects.select_related("user").filter(platform=platform, sub=sub).first()


@dataclass(frozen=True)
class LaunchTarget:
    """What a launch opens: a course, or one of its lessons or live sessions."""

    course: CoursePage
    session: LiveSession | None = None
    lesson: LessonPage | None = None


def _course_by_reference(reference: str) -> CoursePage | None:
    courses = CoursePage.objects.live()
    if reference.isdigit():
        return courses.filter(pk=int(reference)).first()
    return courses.filter(slug=reference).first()


def _target_from_path(path: str) -> LaunchTarget | None:
    """A Corridor page's address given as the link's target: a live session's page, or a course page."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name == "classrooms:live-session":
        session = LiveSession.objects.select_related("course").filter(pk=match.kwargs["session_id"]).first()
        return LaunchTarget(course=session.course, session=session) if session else None
    # Wagtail serves course pages: compare with each live course's own address (there are tens, not thousands).
    for course in CoursePage.objects.live():
        if course.url and urlsplit(course.url).path == path:
            return LaunchTarget(course=course)
    return None


def launch_target(claims: dict[str, Any]) -> LaunchTarget | None:
    """The course, lesson or live session a launch links to: the custom parameter `session` (a live session's
    number), `lesson` (a lesson page's number) or `course` (a course page's slug or number), else the target link URI
    when it is a Corridor page's address."""
    custom = claims.get(CUSTOM_CLAIM) or {}
    session_ref = str(custom.get("session", "")).strip()
    if session_ref:
        session = (
            LiveSession.objects.select_related("course").filter(pk=int(session_ref)).first()
            if session_ref.isdigit()
            else None
        )
        return LaunchTarget(course=session.course, session=session) if session else None
    lesson_ref = str(custom.get("lesson", "")).strip()
    if lesson_ref:
        lesson = LessonPage.objects.live().filter(pk=int(lesson_ref)).first() if lesson_ref.isdigit() else None
        course = course_of_page(page=lesson) if lesson else None
        return LaunchTarget(course=course, lesson=lesson) if lesson and course else None
    course_ref = str(custom.get("course", "")).strip()
    if course_ref:
        course = _course_by_reference(course_ref)
        return LaunchTarget(course=course) if course else None
    target = str(claims.get(TARGET_LINK_URI_CLAIM, ""))
    return _target_from_path(urlsplit(target).path) if target else None


@dataclass(frozen=True)
class DeepLinkChoice:
    """Something an instructor may place in their platform course: its form value, title and launch parameters."""

    value: str
    title: str
    custom: dict[str, str]
    kind: str


def deep_link_choices() -> list[tuple[CoursePage, list[DeepLinkChoice]]]:
    """Each live course with its lessons and live sessions, as the deep linking page offers them."""
    choices = []
    for course in CoursePage.objects.live().order_by("title"):
        items = [DeepLinkChoice(f"course:{course.pk}", course.title, {"course": course.slug}, "course")]
        items += [
            DeepLinkChoice(f"lesson:{lesson.pk}", lesson.title, {"lesson": str(lesson.pk)}, "lesson")
            for lesson in course_lessons(course)
        ]
        items += [
            DeepLinkChoice(f"session:{session.pk}", session.title, {"session": str(session.pk)}, "session")
            for session in LiveSession.objects.filter(course=course).order_by("starts_at")
        ]
        choices.append((course, items))
    return choices


def deep_link_choice(value: str) -> DeepLinkChoice | None:
    for _course, items in deep_link_choices():
        for item in items:
            if item.value == value:
                return item
    return None


def lti_records_of(*, user: Any) -> dict[str, Any]:
    """A person's LTI records for their data export: who they are on each partner platform, and the scores sent."""
    accounts = PlatformAccount.objects.filter(user=user).select_related("platform").order_by("pk")
    return {
        "platform_accounts": [
            {
                "platform": account.platform.name,
                "issuer": account.platform.issuer,
                "platform_user_id": account.sub,
                "linked_at": account.created_at.isoformat(),
                "last_launch_at": account.last_launch_at.isoformat() if account.last_launch_at else None,
                "scores_sent": [
                    {
                        "result": delivery.source,
                        "score": delivery.score_given,
                        "out_of": delivery.score_maximum,
                        "state": delivery.state,
                        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
                    }
                    for link in account.score_links.order_by("pk")
                    for delivery in link.deliveries.order_by("pk")
                ],
            }
            for account in accounts
        ]
    }
