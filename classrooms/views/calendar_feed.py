"""Not locale-prefixed: calendar apps fetch these URLs without a language."""

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from classrooms.ical import calendar_ics
from classrooms.selectors import timetable as timetable_selectors
from lms.accounts.selectors import user_by_calendar_token


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The personal iCal feed: anyone holding the secret URL may read it, so it says no more than a timetable."""
    user = user_by_calendar_token(token=token)
    if user is None:
        raise Http404
    now = timezone.now()
    body = calendar_ics(
        entries=timetable_selectors.calendar_feed_for(user=user, now=now),
        language=user.preferred_language,
        base_url=f"{request.scheme}://{request.get_host()}",
        now=now,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="corridor.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
