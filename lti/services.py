"""Writes for LTI: Corridor's key rotation, and accepting a launch that pylti1p3 has validated.

A launch is accepted in one transaction: the nonce is spent, the user is found or created, linked, given their role
and enrolled; any refusal (a course that is full, an account that may not be taken over) undoes all of it."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.names_roles import NamesRolesProvisioningService, TMember
from pylti1p3.roles import StudentRole, TeacherRole
from pylti1p3.service_connector import ServiceConnector

from classrooms.models import LiveSession, SessionState
from classrooms.selectors.attendance import attendance_report
from courses.models import QuizAttempt
from courses.services import course_teacher_add, enrolment_create
from lms.accounts.models import Cohort, User
from lms.accounts.personal_data import ErasedPerson
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lti import selectors
from lti.keys import public_jwk, rsa_key_pair
from lti.models import (
    Platform,
    PlatformAccount,
    PlatformContext,
    RosterPull,
    RosterPullState,
    ScoreDelivery,
    ScoreDeliveryState,
    ScoreLink,
    ToolKey,
    UsedNonce,
)
from lti.tool_config import registration_of

# How many keys stay published: the signing key and the one before it (so what it signed still verifies).
PUBLISHED_KEYS = 2
# A platform's e-mail claim links to an existing account only if that account holds no role beyond these: a
# platform must not be able to take over an administrator's or operator's account by naming its address.
LINKABLE_ROLES = {Role.TRAINEE, Role.INSTRUCTOR}


@transaction.atomic
def tool_key_rotate() -> ToolKey:
    """A new signing key; keys older than the previous one are retired (no longer published)."""
    private_pem, public_pem = rsa_key_pair()
    key = ToolKey.objects.create(
        kid=public_jwk(public_pem)["kid"], private_key_pem=private_pem, public_key_pem=public_pem
    )
    keep = list(selectors.published_keys().values_list("pk", flat=True)[:PUBLISHED_KEYS])
    selectors.published_keys().exclude(pk__in=keep).update(retired_at=timezone.now())
    return key


def tool_key_current() -> ToolKey:
    """The key that signs now (the first is made when first needed; two requests racing there make two keys, both
    published, the newer signing: harmless, so no lock on every launch)."""
    key = selectors.published_keys().first()
    return key if key is not None else tool_key_rotate()


@dataclass(frozen=True)
class LaunchResult:
    user: User
    destination: str
    created: bool


def _refuse(code: str, message: str) -> CorridorError:
    return CorridorError(code, message, status=400)


def _role_of(claims: dict[str, Any]) -> Role:
    """Instructor (or a context administrator) → instructor; Learner (any student role) → trainee."""
    if TeacherRole(claims).check():
        return Role.INSTRUCTOR
    if StudentRole(claims).check():
        return Role.TRAINEE
    raise _refuse("lti_role", _("Your role in the learning platform gives no access to Corridor."))


def _placeholder_email(*, platform: Platform, sub: str) -> str:
    digest = hashlib.sha256(f"{platform.pk}:{sub}".encode()).hexdigest()[:20]
    return f"lti-{platform.pk}-{digest}@lti.invalid"


def _user_for(*, platform: Platform, claims: dict[str, Any], launched: bool = True) -> tuple[User, bool]:
    """The Corridor user a platform's person is (by their `sub`, else their e-mail address), created when there is
    none: the one matching rule for launches and roster pulls (a roster's member has the claims' names). A launch
    stamps the link's last launch; a roster pull does not."""
    sub = str(claims.get("sub", ""))
    if not sub:
        raise _refuse("lti_no_user", _("The learning platform did not say who you are."))
    account = selectors.account_for(platform=platform, sub=sub)
    if account is not None:
        if launched:
            account.last_launch_at = timezone.now()
            account.save(update_fields=["last_launch_at"])
        return account.user, False
    email = str(claims.get("email", "")).strip().lower()
    user = User.objects.filter(email=email).first() if email else None
    created = user is None
    if user is not None and not user_roles(user) <= LINKABLE_ROLES:
        raise _refuse(
            "lti_account_protected",
            _("A Corridor staff account uses this e-mail address: ask an administrator to sign you in."),
        )
    if user is None:
        user = User.objects.create_user(
            email or _placeholder_email(platform=platform, sub=sub),
            first_name=str(claims.get("given_name", "") or claims.get("name", ""))[:150],
            last_name=str(claims.get("family_name", ""))[:150],
        )
    PlatformAccount.objects.create(
        platform=platform, sub=sub, user=user, last_launch_at=timezone.now() if launched else None
    )
    return user, created


def _spend_nonce(*, platform: Platform, claims: dict[str, Any]) -> None:
    nonce = str(claims.get("nonce", ""))
    try:
        with transaction.atomic():
            UsedNonce.objects.create(platform=platform, nonce=nonce)
    except IntegrityError:
        raise _refuse(
            "lti_replayed", _("This launch was already used. Open Corridor again from your course.")
        ) from None


def _sign_in_as(*, platform: Platform, claims: dict[str, Any], role: Role, launched: bool = True) -> tuple[User, bool]:
    user, created = _user_for(platform=platform, claims=claims, launched=launched)
    user.groups.add(Group.objects.get(name=role.value))
    vars(user).pop("_corridor_roles", None)  # user_roles' cache: the role was just added
    return user, created


@transaction.atomic
def launch_accept(*, platform: Platform, claims: dict[str, Any]) -> LaunchResult:
    """Accept a launch whose signature, issuer, audience, deployment, state and nonce pylti1p3 has checked: spend
    the nonce, find or create the user, give them their role, enrol a trainee (or put an instructor on the course's
    teaching team: they start, end and moderate its live sessions), and say where they go."""
    _spend_nonce(platform=platform, claims=claims)
    target = selectors.launch_target(claims)
    if target is None:
        raise _refuse(
            "lti_no_target", _("The link in your learning platform points to no Corridor course or live session.")
        )
    role = _role_of(claims)
    user, created = _sign_in_as(platform=platform, claims=claims, role=role)
    if role is Role.TRAINEE:
        enrolment_create(user=user, course=target.course)
        _score_link_record(platform=platform, claims=claims, target=target)
    elif role is Role.INSTRUCTOR:
        # An instructor of the platform course: an instructor of the linked course's live sessions.
        course_teacher_add(user=user, course=target.course)
    _context_record(platform=platform, claims=claims, target=target, user=user, role=role)
    if target.session is not None:
        destination = reverse("classrooms:live-session", kwargs={"session_id": target.session.pk})
    elif target.lesson is not None:
        destination = target.lesson.url or "/"
    else:
        destination = target.course.url or "/"
    return LaunchResult(user=user, destination=destination, created=created)


@transaction.atomic
def deep_link_accept(*, platform: Platform, claims: dict[str, Any]) -> User:
    """Accept a deep linking request (an instructor placing Corridor content in their platform course): spend the
    nonce, find or create the instructor. Only a platform instructor may pick content."""
    _spend_nonce(platform=platform, claims=claims)
    if _role_of(claims) is not Role.INSTRUCTOR:
        raise _refuse("lti_role", _("Only an instructor of the platform course can place Corridor content in it."))
    user, _created = _sign_in_as(platform=platform, claims=claims, role=Role.INSTRUCTOR)
    return user


@transaction.atomic
def lti_erase_user(*, person: ErasedPerson) -> dict[str, int]:
    """Erasure: the links from platforms' user ids to the person go, with their line items and scores, and their
    place among platform courses' instructors (a later launch from the platform makes a new account)."""
    accounts = PlatformAccount.objects.filter(user=person.user)
    deliveries = ScoreDelivery.objects.filter(link__account__in=accounts).count()
    count = accounts.count()
    accounts.delete()
    # That they taught a platform course (and so may pull its roster) goes too.
    taught = PlatformContext.instructors.through.objects.filter(user=person.user)
    courses_taught = taught.count()
    taught.delete()
    return {"platform_accounts": count, "grade_passbacks": deliveries, "platform_courses_taught": courses_taught}


# Assignment and Grade Services: quiz results posted back as scores. -----------------------------------------------

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def _score_link_record(*, platform: Platform, claims: dict[str, Any], target: selectors.LaunchTarget) -> None:
    """Keep the line item a learner's launch names (when the platform grants the score scope)."""
    endpoint = claims.get(AGS_CLAIM) or {}
    lineitem_url = str(endpoint.get("lineitem", ""))
    if not lineitem_url or SCORE_SCOPE not in endpoint.get("scope", []):
        return
    account = PlatformAccount.objects.get(platform=platform, sub=str(claims["sub"]))
    ScoreLink.objects.update_or_create(
        account=account,
        lineitem_url=lineitem_url,
        defaults={
            "course_key": target.course.translation_key,
            "lesson_key": target.lesson.translation_key if target.lesson else None,
            "session_id": target.session.pk if target.session else None,
            "endpoint": endpoint,
        },
    )


@transaction.atomic
def scores_collect() -> list[int]:
    """A delivery for each quiz result not yet reported to a line item that covers it; returns the ids of those and
    of the deliveries not yet taken by their platform (the caller sends them after commit)."""
    created = list(ScoreDelivery.objects.filter(state=ScoreDeliveryState.FAILED).values_list("pk", flat=True))
    for link in ScoreLink.objects.select_related("account"):
        if link.session_id is not None:
            created += _attendance_collect(link)
            continue
        attempts = QuizAttempt.objects.filter(user_id=link.account.user_id, course_key=link.course_key)
        if link.lesson_key is not None:
            attempts = attempts.filter(lesson_key=link.lesson_key)
        reported = set(link.deliveries.values_list("source", flat=True))
        for attempt in attempts.order_by("created_at"):
            source = f"quiz-attempt:{attempt.pk}"
            if source in reported:
                continue
            delivery = ScoreDelivery.objects.create(
                link=link, source=source, score_given=attempt.score, score_maximum=attempt.max_score
            )
            created.append(delivery.pk)
    return created


def _attendance_collect(link: ScoreLink) -> list[int]:
    """A live session's link: once the session has ended, the learner's attendance (% of the scheduled time)."""
    assert link.session_id is not None
    source = f"attendance:{link.session_id}"
    session = LiveSession.objects.filter(pk=link.session_id, state=SessionState.ENDED).first()
    if session is None or link.deliveries.filter(source=source).exists():
        return []
    rows = [row for row in attendance_report(session=session).rows if row.user_id == link.account.user_id]
    percent = rows[0].percent if rows else 0.0
    delivery = ScoreDelivery.objects.create(link=link, source=source, score_given=percent, score_maximum=100)
    return [delivery.pk]


class ScoreNotDelivered(Exception):
    """The platform did not take a score (down, refusing): the task tries again later."""


def score_deliver(*, delivery_id: int) -> ScoreDelivery:
    """Post one score to its line item through pylti1p3 (a client-credentials token, then the score). Not atomic: the
    attempt and its error are kept whatever happens, so administrators see what is failing."""
    delivery = ScoreDelivery.objects.select_related("link__account__platform", "link__account").get(pk=delivery_id)
    if delivery.state == ScoreDeliveryState.DELIVERED:
        return delivery
    link = delivery.link
    registration = registration_of(platform=link.account.platform, key=tool_key_current())
    grade = (
        Grade()
        .set_score_given(delivery.score_given)
        .set_score_maximum(delivery.score_maximum)
        .set_timestamp(delivery.created_at.isoformat())
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(link.account.sub)
    )
    delivery.attempts += 1
    try:
        AssignmentsGradesService(ServiceConnector(registration), link.endpoint).put_grade(grade)
    except Exception as error:  # a platform down, refusing, or answering nonsense: all are retried
        delivery.state = ScoreDeliveryState.FAILED
        delivery.last_error = str(error)[:2000]
        delivery.save(update_fields=["state", "attempts", "last_error"])
        raise ScoreNotDelivered(str(error)) from error
    delivery.state = ScoreDeliveryState.DELIVERED
    delivery.last_error = ""
    delivery.delivered_at = timezone.now()
    delivery.save(update_fields=["state", "attempts", "last_error", "delivered_at"])
    return delivery


# Names and Role Provisioning Services: a platform course's roster pulled into a Corridor cohort. ------------------

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
# A pull still waiting or running after this long is taken as lost (a pull of thousands takes seconds).
ROSTER_PULL_GIVE_UP = timedelta(minutes=10)


def _context_record(
    *, platform: Platform, claims: dict[str, Any], target: selectors.LaunchTarget, user: User, role: Role
) -> None:
    """A launch that grants NRPS: remember where its platform course's roster is, which Corridor course its links
    open, and (an instructor's launch) that this person teaches it there."""
    memberships_url = str((claims.get(NRPS_CLAIM) or {}).get("context_memberships_url", ""))
    context_claim = claims.get(CONTEXT_CLAIM) or {}
    context_id = str(context_claim.get("id", ""))
    if not memberships_url or not context_id:
        return
    context, _created = PlatformContext.objects.update_or_create(
        platform=platform,
        context_id=context_id,
        defaults={
            "title": str(context_claim.get("title") or context_claim.get("label") or context_id)[:255],
            "course_key": target.course.translation_key,
            "memberships_url": memberships_url,
        },
    )
    if role is Role.INSTRUCTOR:
        context.instructors.add(user)


@transaction.atomic
def roster_pull_request(*, context: PlatformContext, by: User) -> tuple[RosterPull, bool]:
    """A pull of the context's roster, queued (the caller checked `by` may pull it, and sends the task after commit
    when it is new). One at a time: while one is waiting or running, asking again returns it, not new."""
    PlatformContext.objects.select_for_update().filter(pk=context.pk).first()
    unfinished = context.pulls.filter(state__in=[RosterPullState.QUEUED, RosterPullState.RUNNING])
    # A pull whose task was lost (a worker gone before it finished) must not block the next one for ever.
    unfinished.filter(created_at__lt=timezone.now() - ROSTER_PULL_GIVE_UP).update(
        state=RosterPullState.FAILED, error=_("The pull did not finish in time."), finished_at=timezone.now()
    )
    running = unfinished.first()
    if running is not None:
        return running, False
    return RosterPull.objects.create(context=context, requested_by=by), True


class RosterNotRead(Exception):
    """The platform did not give the roster (down, refusing the token or the scope, answering nonsense)."""


def roster_members(*, context: PlatformContext) -> list[TMember]:
    """Every member of the platform course, page after page, through pylti1p3's NRPS client with Corridor's access
    token (client credentials, the contextmembership.readonly scope)."""
    registration = registration_of(platform=context.platform, key=tool_key_current())
    service = NamesRolesProvisioningService(
        ServiceConnector(registration), {"context_memberships_url": context.memberships_url}
    )
    try:
        return service.get_members()
    except Exception as error:  # any failure of the platform's services is the platform's answer, kept
        raise RosterNotRead(str(error)[:2000]) from error


def _cohort_for(context: PlatformContext) -> Cohort:
    """The context's cohort, made on its first pull and named after the platform course (with the platform's name
    when another cohort already has that name)."""
    if context.cohort is not None:
        return context.cohort
    names = [context.title, f"{context.title} ({context.platform.name})", f"{context.title} ({context.context_id})"]
    taken = set(Cohort.objects.filter(name__in=[name[:120] for name in names]).values_list("name", flat=True))
    name = next((name[:120] for name in names if name[:120] not in taken), f"{names[-1][:100]} #{context.pk}")
    cohort = Cohort.objects.create(name=name)
    context.cohort = cohort
    context.save(update_fields=["cohort"])
    return cohort


@transaction.atomic
def _roster_apply(*, pull: RosterPull, members: list[TMember]) -> None:
    """The members into the cohort, all or nothing: each learner found or made as a launch would (its role given,
    enrolled in the linked course); staff (not learners) and members no longer active are counted, not added."""
    context = (
        PlatformContext.objects.select_for_update(of=("self",))
        .select_related("platform", "cohort")
        .get(pk=pull.context_id)
    )
    course = selectors.course_for_key(context.course_key)
    if course is None:
        raise CorridorError("lti_no_course", _("The Corridor course linked to this platform course is gone."))
    cohort = _cohort_for(context)
    in_cohort = set(cohort.members.values_list("pk", flat=True))
    counts = {"added": 0, "already_there": 0, "skipped_staff": 0, "skipped_inactive": 0}
    for member in members:
        claims = {
            "sub": member.get("user_id", ""),
            "email": member.get("email", ""),
            "name": member.get("name", ""),
            "given_name": member.get("given_name", ""),
            "family_name": member.get("family_name", ""),
            ROLES_CLAIM: member.get("roles", []),
        }
        if member.get("status", "Active") != "Active":
            counts["skipped_inactive"] += 1
            continue
        if TeacherRole(claims).check() or not StudentRole(claims).check():
            counts["skipped_staff"] += 1
            continue
        try:
            with transaction.atomic():
                user, _created = _sign_in_as(
                    platform=context.platform, claims=claims, role=Role.TRAINEE, launched=False
                )
        except CorridorError as error:
            if error.code != "lti_account_protected":
                raise
            counts["skipped_staff"] += 1  # a Corridor staff account has this address: never taken over by a roster
            continue
        enrolment_create(user=user, course=course)
        if user.pk in in_cohort:
            counts["already_there"] += 1
            continue
        cohort.members.add(user)
        in_cohort.add(user.pk)
        counts["added"] += 1
    for field, value in counts.items():
        setattr(pull, field, value)
    pull.state = RosterPullState.DONE
    pull.finished_at = timezone.now()
    pull.save(update_fields=[*counts, "state", "finished_at"])


def roster_pull_run(*, pull_id: int) -> RosterPull:
    """Run a queued pull: read the whole roster first (nothing is changed while the platform answers), then apply
    it in one transaction. A platform that fails, or a roster that cannot be applied (the course full), leaves the
    cohort and the enrolments as they were and the pull failed, with the reason shown to the instructor."""
    pull = RosterPull.objects.select_related("context__platform").get(pk=pull_id)
    if not pull.in_progress:
        return pull
    pull.state = RosterPullState.RUNNING
    pull.save(update_fields=["state"])
    try:
        members = roster_members(context=pull.context)
        _roster_apply(pull=pull, members=members)
    except (RosterNotRead, CorridorError) as error:
        reason = (
            _("The learning platform did not give the roster: %(error)s") % {"error": error}
            if isinstance(error, RosterNotRead)
            else str(error.message)
        )
        RosterPull.objects.filter(pk=pull.pk).update(
            state=RosterPullState.FAILED, error=reason, finished_at=timezone.now()
        )
    pull.refresh_from_db()
    return pull
