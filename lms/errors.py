"""Domain errors, and the one place they become an HTTP response."""

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import messages
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy
from django.views.defaults import server_error

if TYPE_CHECKING:  # the stubs' name for a lazy translation; not importable at run time
    from django.utils.functional import _StrPromise


class CorridorError(Exception):
    """A refusal a user can understand: a stable `code` for machines, a `message` for people."""

    def __init__(self, code: str, message: "str | _StrPromise", *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class CorridorErrorMiddleware:
    """Turns a CorridorError raised by a view into a response.

    A form that says where it came from (`next`) gets its page back with the
    message on it; JSON clients get `{"error": {"code", "message"}}`; anything
    else gets an error page. Either way nothing was written: services raise
    before they write.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, CorridorError):
            return None
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse(
                {"error": {"code": exception.code, "message": str(exception.message)}},
                status=exception.status,
            )
        next_url = request.POST.get("next", "") if request.method == "POST" else ""
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            messages.error(request, exception.message, extra_tags=exception.code)
            return HttpResponseRedirect(next_url, status=303)
        # "Go back" is a plain link to the page the person came from (a `javascript:` link would need the Content
        # Security Policy to allow inline script), or to the catalogue.
        back_url = request.headers.get("Referer", "")
        if not back_url or not url_has_allowed_host_and_scheme(
            back_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back_url = "/"
        return render(
            request,
            "corridor/error.html",
            {"error_code": exception.code, "error_message": exception.message, "back_url": back_url},
            status=exception.status,
        )


DATABASE_UNAVAILABLE = gettext_lazy("The database is unavailable, try again in a moment.")
RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exception: BaseException | None) -> bool:
    """The database could not be reached (down, restarting, its connections cut, the pool waiting in vain), as
    opposed to a bug: OperationalError and InterfaceError are what Django raises for both PostgreSQL and SQLite."""
    return isinstance(exception, (OperationalError, InterfaceError))


def handler500(request: HttpRequest) -> HttpResponse:
    """The site's 500 handler (lms/urls.py). Django calls it inside the `except` that caught the error, wherever it
    was raised (a view, or a middleware loading the session): a database that is away becomes a 503 saying so, in
    the request's language, with Retry-After, instead of "server error". Its page extends nothing: the base template
    reads the user, which needs the database."""
    if not is_database_unavailable(sys.exc_info()[1]):
        return server_error(request)
    message = str(DATABASE_UNAVAILABLE)
    if "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "database_unavailable", "message": message}}, status=503
        )
    else:
        response = HttpResponse(
            render_to_string("corridor/database_unavailable.html", {"error_message": message}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
