"""Writes for LTI: Corridor's key rotation, and accepting a launch that pylti1p3 has validated.

A launch is accepted in one transaction: the nonce is spent, the user is found or created, linked, given their role
and enrolled; any refusal (a course that is full, an account that may not be taken over) undoes all of it."""

import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from pylti1p3.roles import StudentRole, TeacherRole

from courses.services import enrolment_create
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lti import selectors
from lti.keys import public_jwk, rsa_key_pair
from lti.models import Platform, PlatformAccount, ToolKey, UsedNonce

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


@transaction.atomic
def tool_key_current() -> ToolKey:
    """The key that signs now (the first is made when first needed)."""
    key = selectors.published_keys().select_for_update().first()
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


def _user_for(*, platform: Platform, claims: dict[str, Any]) -> tuple[User, bool]:
    sub = str(claims.get("sub", ""))
    if not sub:
        raise _refuse("lti_no_user", _("The learning platform did not say who you are."))
    account = selectors.account_for(platform=platform, sub=sub)
    if account is not None:
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
    PlatformAccount.objects.create(platform=platform, sub=sub, user=user, last_launch_at=timezone.now())
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


def _sign_in_as(*, platform: Platform, claims: dict[str, Any], role: Role) -> tuple[User, bool]:
    user, created = _user_for(platform=platform, claims=claims)
    user.groups.add(Group.objects.get(name=role.value))
    vars(user).pop("_corridor_roles", None)  # user_roles' cache: the role was just added
    return user, created


@transaction.atomic
def launch_accept(*, platform: Platform, claims: dict[str, Any]) -> LaunchResult:
    """Accept a launch whose signature, issuer, audience, deployment, state and nonce pylti1p3 has checked: spend
    the nonce, find or create the user, give them their role, enrol a trainee, and say where they go."""
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
