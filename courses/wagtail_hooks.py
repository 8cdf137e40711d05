"""Wagtail hooks of the catalogue: lesson documents are served only to those who may read the lesson."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from wagtail import hooks

from courses.selectors import document_is_open_to


@hooks.register("before_serve_document")
def serve_documents_to_their_readers(document: Any, request: HttpRequest) -> HttpResponse | None:
    """Wagtail's /documents/<id>/<name> (and its S3 redirect) for course staff and enrolled trainees only."""
    if document_is_open_to(document=document, user=request.user):
        return None
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    raise PermissionDenied(_("This file belongs to a course you are not enrolled in."))
