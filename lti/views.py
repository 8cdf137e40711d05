"""LTI 1.3 endpoints a platform calls: Corridor's key set, OIDC login initiation and the launch.

A platform posts across sites, so login and launch take no CSRF token: the launch's id_token, checked by pylti1p3
(signature against the platform's key set, state, nonce, issuer, audience, deployment), is what proves it."""

import logging
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException

from courses.models import CoursePage
from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lti import selectors, services, tasks
from lti.models import PlatformContext, RosterPull
from lti.tool_config import CorridorToolConf

logger = logging.getLogger(__name__)

SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"
# The deep linking requests this browser's person may still answer (pylti1p3's launch ids).
DEEP_LINKS_SESSION_KEY = "lti_deep_links"
DEEP_LINKING_SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


def _refusal_reason(error: Exception) -> str:
    """pylti1p3's refusal, said in words a person can act on (its own text is logged)."""
    text = str(error)
    reasons = [
        (("expired",), _("The launch is too old (it expired). Open Corridor again from your course.")),
        (
            ("Signature verification failed", "Unable to find public key", "Can't decode id_token", "JWT"),
            _("The launch's signature does not match the learning platform's keys."),
        ),
        (("Nonce", "nonce"), _("This launch was not started from this browser, or was already used.")),
        (("State", "state"), _("This launch was not started from this browser. Open Corridor again from your course.")),
        (
            ("Registration not found", "Could not find registration", "Client id not registered", "issuer"),
            _("This learning platform is not registered with Corridor."),
        ),
        (("deployment",), _("This deployment of Corridor in your learning platform is not registered.")),
    ]
    for needles, reason in reasons:
        if any(needle in text for needle in needles):
            return reason
    return _("The launch could not be checked.")


def _refused(request: HttpRequest, *, code: str, reason: str) -> HttpResponse:
    return render(request, "lti/launch_refused.html", {"refusal_code": code, "reason": reason}, status=400)


def _tool_conf() -> CorridorToolConf:
    return CorridorToolConf(key=services.tool_key_current())


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """Corridor's public keys (JSON Web Key Set): platforms verify what Corridor signs with them."""
    services.tool_key_current()  # the first key is made on first use
    return JsonResponse(selectors.tool_jwks())


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def oidc_login(request: HttpRequest) -> HttpResponse:
    """OIDC third-party login initiation: answer the platform's request with its authentication request."""
    launch_url = request.build_absolute_uri(reverse("lti:launch"))
    oidc = DjangoOIDCLogin(request, _tool_conf(), launch_data_storage=DjangoCacheDataStorage())
    try:
        response: HttpResponse = oidc.redirect(launch_url)
    except (LtiException, OIDCException) as error:
        logger.info("LTI login refused: %s", error)
        return _refused(request, code="lti_login", reason=_refusal_reason(error))
    return response


@csrf_exempt
@never_cache
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """The launch: pylti1p3 validates the id_token; Corridor signs the person in, enrols them and opens the page."""
    tool_conf = _tool_conf()
    message_launch = DjangoMessageLaunch(request, tool_conf, launch_data_storage=DjangoCacheDataStorage())
    try:
        claims: dict[str, Any] = dict(message_launch.get_launch_data())
    except (LtiException, OIDCException) as error:
        logger.info("LTI launch refused: %s", error)
        return _refused(request, code="lti_launch", reason=_refusal_reason(error))
    platform = tool_conf.platform
    if platform is not None and message_launch.is_deep_link_launch():
        try:
            user = services.deep_link_accept(platform=platform, claims=claims)
        except CorridorError as error:
            return _refused(request, code=error.code, reason=str(error.message))
        login(request, user, backend=SIGN_IN_BACKEND)
        # After login (which starts a new session): this browser's person may answer this request, once.
        launch_id = message_launch.get_launch_id()
        request.session[DEEP_LINKS_SESSION_KEY] = [*request.session.get(DEEP_LINKS_SESSION_KEY, []), launch_id]
        return HttpResponseRedirect(reverse("lti:deep-link", kwargs={"launch_id": launch_id}))
    if platform is None or not message_launch.is_resource_launch():
        return _refused(request, code="lti_message", reason=_("Corridor cannot open this kind of launch."))
    try:
        result = services.launch_accept(platform=platform, claims=claims)
    except CorridorError as error:
        return _refused(request, code=error.code, reason=str(error.message))
    login(request, result.user, backend=SIGN_IN_BACKEND)
    return HttpResponseRedirect(result.destination)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def deep_link(request: HttpRequest, launch_id: str) -> HttpResponse:
    """Deep linking: the instructor the platform sent here picks a course, lesson or live session; Corridor signs the
    choice and sends it back to the platform, which places a link to it in the instructor's course."""
    if launch_id not in request.session.get(DEEP_LINKS_SESSION_KEY, []):
        # Another person's request, one already answered, or a made-up id: nothing to show.
        raise Http404
    if request.method == "GET":
        return render(request, "lti/deep_link.html", {"choices": selectors.deep_link_choices()})
    choice = selectors.deep_link_choice(request.POST.get("choice", ""))
    if choice is None:
        response = render(
            request,
            "lti/deep_link.html",
            {"choices": selectors.deep_link_choices(), "error": _("Choose a course, lesson or live session.")},
            status=400,
        )
        return response
    tool_conf = _tool_conf()
    try:
        message_launch = DjangoMessageLaunch.from_cache(
            launch_id, request, tool_conf, launch_data_storage=DjangoCacheDataStorage()
        )
        deep_link_request = message_launch.get_deep_link()
    except LtiException as error:
        logger.info("LTI deep link could not be answered: %s", error)
        return _refused(request, code="lti_deep_link", reason=_refusal_reason(error))
    resource = (
        DeepLinkResource()
        .set_url(request.build_absolute_uri(reverse("lti:launch")))
        .set_title(choice.title)
        .set_custom_params(choice.custom)
    )
    claims: dict[str, Any] = dict(message_launch.get_launch_data())
    settings_claim: dict[str, Any] = claims.get(DEEP_LINKING_SETTINGS_CLAIM) or {}
    return_url = str(settings_claim["deep_link_return_url"])
    request.session[DEEP_LINKS_SESSION_KEY] = [
        known for known in request.session.get(DEEP_LINKS_SESSION_KEY, []) if known != launch_id
    ]
    response = render(
        request,
        "lti/deep_link_return.html",
        {"return_url": return_url, "jwt": deep_link_request.get_response_jwt([resource]), "choice": choice},
    )
    # The page posts the signed choice to the platform: the policy's form-action allows that one address.
    update = dict(getattr(response, "_csp_update", None) or {})
    update["form-action"] = [*update.get("form-action", []), return_url]
    response._csp_update = update  # type: ignore[attr-defined]
    return response


# Names and Role Provisioning Services: an instructor's platform courses, and pulling one's roster into a cohort. ----


@dataclass(frozen=True)
class PlatformCourseRow:
    context: PlatformContext
    course: CoursePage | None
    pull: RosterPull | None


@login_required
@never_cache
@require_GET
def platform_courses(request: HttpRequest) -> HttpResponse:
    """The platform courses the instructor launched Corridor from (all of them for an administrator), each with its
    cohort, its last roster pull's progress or result, and the button that pulls the roster."""
    if not user_roles(request.user) & {Role.INSTRUCTOR, Role.ADMINISTRATOR}:
        raise PermissionDenied(_("Only instructors and administrators pull rosters from learning platforms."))
    rows = [
        PlatformCourseRow(
            context=context,
            course=selectors.course_for_key(context.course_key),
            pull=selectors.roster_pull_latest(context),
        )
        for context in selectors.platform_contexts_for(request.user)
    ]
    return render(request, "lti/platform_courses.html", {"rows": rows})


@login_required
@require_POST
def roster_pull(request: HttpRequest, context_id: int) -> HttpResponse:
    """Pull the platform course's roster (a Celery task, after commit); back to the list, which shows its progress."""
    context = selectors.platform_context_for(user=request.user, context_id=context_id)
    if context is None:
        # Another instructor's platform course, or a forged id: nothing to say it exists, nothing changed.
        raise Http404(_("No such platform course among yours."))
    pull, new = services.roster_pull_request(context=context, by=cast(User, request.user))
    if new:
        transaction.on_commit(lambda: tasks.pull_roster.delay(pull.pk))
    return HttpResponseRedirect(f"{reverse('lti-pages:courses')}#context-{context.pk}")
