"""A signed-in person's timetable, and their personal calendar feed link."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from classrooms.selectors import timetable as timetable_selectors
from lms.accounts.services import user_calendar_token_reset


@login_required
def timetable(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    feed_url = request.build_absolute_uri(reverse("calendar:feed", kwargs={"token": user.calendar_token}))
    return render(
        request,
        "classrooms/timetable.html",
        {
            "timetable": timetable_selectors.timetable_for(user=user, now=timezone.now()),
            "feed_url": feed_url,
            # webcal:// opens the subscribe dialog of the desktop calendar app.
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1],
        },
    )


@require_POST
@login_required
def calendar_link_reset(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    user_calendar_token_reset(user=user)
    messages.success(
        request,
        _("Your calendar link has been reset: the old link no longer works. Subscribe again with the new one."),
    )
    return redirect("classrooms:timetable")
