"""Recordings for viewers: a link that checks who asks, then hands out a short-lived signed URL."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from lms.files import stored_file_response
from streaming import selectors


@require_safe
@never_cache
@login_required
def recording_watch(request: HttpRequest, recording_id: int) -> HttpResponse:
    """Redirect a viewer who may watch the recording to a fresh signed URL (the course page links here).

    Anyone else gets 404: whether a recording exists is not revealed.
    """
    recording = selectors.recording_for_viewer(user=request.user, recording_id=recording_id)
    if recording is None:
        raise Http404
    return HttpResponseRedirect(selectors.recording_signed_url(recording=recording, user=request.user))


@require_safe
@never_cache
@login_required
def recording_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """Serve a recording from local storage (the embedded default) for a valid, unexpired signed link."""
    recording = selectors.recording_from_token(token=token, user=request.user)
    if recording is None:
        raise Http404
    return stored_file_response(selectors.recording_file(recording=recording))
