"""The request type of views that only signed-in users reach."""

from django.http import HttpRequest

from lms.accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind `login_required`: its `user` is a signed-in User, so services that take a User accept it.

    For the type checker only; Django builds the request as usual (django-stubs' recommended pattern).
    """

    user: User
