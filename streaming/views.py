"""Recordings for viewers: a link that checks who asks, then hands out a short-lived signed URL; and, for whoever
schedules a session, where its recordings are stored."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from classrooms.models import LiveSession
from classrooms.selectors.sessions import sessions_managed_by
from lms.files import stored_file_response
from lms.regions import region_label
from streaming import selectors, services
from streaming.forms import RecordingsRegionForm
from streaming.models import CompositionState


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


@require_safe
@never_cache
@login_required
def composition_watch(request: HttpRequest, composition_id: int) -> HttpResponse:
    """Redirect a viewer who may watch the session's composed recording to a fresh signed URL (a download).

    Anyone else gets 404, as for a publisher's recording.
    """
    composition = selectors.session_composition_for_viewer(user=request.user, composition_id=composition_id)
    if composition is None:
        raise Http404
    return HttpResponseRedirect(selectors.composition_signed_url(composition=composition, user=request.user))


@require_safe
@never_cache
@login_required
def composition_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """Serve a composed recording from local storage (the embedded default) for a valid signed link."""
    composition = selectors.composition_from_token(token=token, user=request.user)
    if composition is None:
        raise Http404
    return stored_file_response(selectors.composition_file(composition=composition))


@require_safe
@never_cache
@login_required
def composition_progress(request: HttpRequest, composition_id: int) -> JsonResponse:
    """How far the session's one file is, for the course page's progress bar (corridor/recordings.js), in the
    page's language. 404 for anyone who may not watch the course's recordings."""
    composition = selectors.composition_progress_for_viewer(user=request.user, composition_id=composition_id)
    if composition is None:
        raise Http404
    stored = composition.state == CompositionState.STORED
    failed = composition.state == CompositionState.FAILED
    if stored:
        text = _("The recording is ready.")
    elif failed:
        text = _("The recording of this session could not be prepared.")
    else:
        text = _("The recording is being prepared, %(percent)s %%") % {"percent": composition.progress}
    return JsonResponse(
        {
            "state": composition.state,
            "progress": composition.progress,
            "finished": stored or failed,
            "text": text,
            "url": reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk})
            if stored
            else None,
        }
    )


def _rule_label(session: LiveSession) -> str:
    """What "no choice" means for `session`: the site's RECORDINGS_REGION, and the region it comes to."""
    if settings.RECORDINGS_REGION == "instructor":
        return _("The instructor's home region (%(region)s)") % {"region": region_label(session.instructor.home_region)}
    return _("The site's choice (%(region)s)") % {"region": region_label(settings.RECORDINGS_REGION)}


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@login_required
def session_storage(request: HttpRequest, session_id: int) -> HttpResponse:
    """Where a session's recordings are stored: the region new ones go to (changeable by its instructor or an
    administrator) and, for each stored file, the region it is in. 404 for anyone else."""
    session = sessions_managed_by(user=request.user).filter(pk=session_id).select_related("instructor").first()
    if session is None:
        raise Http404
    form = RecordingsRegionForm(
        request.POST if request.method == "POST" else None,
        rule_label=_rule_label(session),
        initial={"region": selectors.session_recordings_region_chosen(session=session)},
    )
    if request.method == "POST" and form.is_valid():
        region = services.session_recordings_region_choose(
            session=session, region=form.cleaned_data["region"], by=request.user
        )
        messages.success(
            request,
            _("New recordings of this session will be stored in %(region)s.") % {"region": region_label(region)},
        )
        return HttpResponseRedirect(reverse("streaming:session-storage", args=[session.pk]))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "streaming/session_storage.html",
        {
            "session": session,
            "form": form,
            "region": region_label(selectors.session_recordings_region(session=session)),
            "files": selectors.session_stored_files(session=session),
        },
        status=status,
    )
