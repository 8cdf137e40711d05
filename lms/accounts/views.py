from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation

from lms.accounts.roles import Role, user_roles


@login_required
def after_login(request: HttpRequest) -> HttpResponse:
    """Land each person in their own language, on the page their role starts from."""
    language = request.user.preferred_language  # type: ignore[union-attr]
    roles = user_roles(request.user)
    if roles & {Role.INSTRUCTOR, Role.ADMINISTRATOR}:
        target = "/admin/"
    elif Role.TRAINEE in roles:
        target = f"/{language}/learning/"
    else:
        target = f"/{language}/"
    translation.activate(language)
    response = HttpResponseRedirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response
