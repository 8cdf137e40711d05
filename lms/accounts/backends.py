"""The sign-in throttle's authentication backend (django-axes)."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest

# django-axes keeps the name tried in a 255-character column.
USERNAME_KEPT = 255


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' check, for sign-ins that come with a request (every page that signs people in does).

    A call without one (Django's test client `login`, a shell) has no address to count: the throttle stands aside
    instead of failing, and the next backend checks the password as usual."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        for header in ("HTTP_USER_AGENT", "HTTP_ACCEPT"):
            # django-axes stores these with the attempt, and PostgreSQL refuses a NUL character in text.
            if "\x00" in request.META.get(header, ""):
                request.META[header] = request.META[header].replace("\x00", "")
        return super().authenticate(request, username, password, **kwargs)


def throttled_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account name django-axes counts failures against (AXES_USERNAME_CALLABLE): what was typed, in lower case
    (as emails are stored), without NUL characters (PostgreSQL refuses them) and cut to the column's length; a
    sign-in with a name too long to be an email still counts, as a failure of that name."""
    field = settings.AXES_USERNAME_FORM_FIELD
    typed = (credentials or {}).get(field)
    if typed is None:
        typed = request.POST.get(field, "") if request is not None else ""
    return str(typed).replace("\x00", "").strip().lower()[:USERNAME_KEPT]
