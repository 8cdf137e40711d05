"""Attendance pages: the room display's check-in code, check-in, the operator's roster, the report and its CSV.

Who may see what: the room display, the instructor, administrators and that room's
operators; the roster, that room's operators and administrators; the report, the
instructor, administrators and the operators of the session's rooms. Trainees only check in.
"""

from __future__ import annotations

import csv
from datetime import datetime, tzinfo
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from classrooms.charts import stacked_area_chart
from classrooms.events import AttendancePayload
from classrooms.forms import RosterMarkForm
from classrooms.models import AttendanceSource, LiveSession, Room, SessionState
from classrooms.selectors import attendance as attendance_selectors
from classrooms.selectors.attendance import AttendanceTimeline
from classrooms.selectors.participants import session_participant
from classrooms.services import attendance
from lms.errors import CorridorError
from lms.forms import form_checked
from lms.timezones import city_label, city_time_zone

DISPLAY_REFRESH_SECONDS = 5


def _session(session_id: int) -> LiveSession:
    return get_object_or_404(LiveSession.objects.select_related("course", "instructor"), pk=session_id)


def _session_room(session: LiveSession, room_id: int) -> Room:
    """A room booked for the session; any other room is as good as none."""
    return get_object_or_404(session.rooms.all(), pk=room_id)


def _forbidden() -> CorridorError:
    return CorridorError("forbidden", _("You do not have access to this page."), status=403)


def _reader_clock(request: HttpRequest) -> dict[str, Any]:
    """Times on the reader's home-city clock (both cities are UTC+8), and the city's name."""
    city = getattr(request.user, "home_region", "")
    return {"zone": city_time_zone(city), "city_name": city_label(city)}


def _presence_context(presence: AttendancePayload) -> dict[str, Any]:
    """The payload (ISO times, as broadcast) with datetimes for the template."""
    return {
        "presence": presence,
        "presence_at": datetime.fromisoformat(presence["at"]),
        "here": [{**person, "since": datetime.fromisoformat(person["since"])} for person in presence["here"]],
        "left": [{**person, "left_at": datetime.fromisoformat(person["left_at"])} for person in presence["left"]],
    }


def _chart_summary(timeline: AttendanceTimeline, *, zone: tzinfo, city: str) -> str:
    """The chart in one sentence, for screen readers (the full data is in the table below it)."""
    if not timeline.times:
        return ""
    peak = max(range(len(timeline.totals)), key=lambda k: (timeline.totals[k], -k))
    latest = ", ".join(f"{series.label}: {series.counts[-1]}" for series in timeline.series)
    return _(
        "From %(start)s to %(end)s (%(city)s time), at most %(peak)d of %(enrolled)d enrolled trainees were present,"
        " at %(peak_time)s. At %(end)s: %(latest)s."
    ) % {
        "start": timeline.times[0].astimezone(zone).strftime("%H:%M"),
        "end": timeline.times[-1].astimezone(zone).strftime("%H:%M"),
        "city": city,
        "peak": timeline.totals[peak],
        "enrolled": timeline.enrolled,
        "peak_time": timeline.times[peak].astimezone(zone).strftime("%H:%M"),
        "latest": latest,
    }


# The room display -------------------------------------------------------------------------


def _checkin_url(request: HttpRequest, session: LiveSession, room: Room, code: str) -> str:
    """The absolute check-in URL, without the language prefix: the trainee's phone picks its own language."""
    url = reverse("classrooms:attendance-checkin", kwargs={"session_id": session.pk, "room_id": room.pk, "code": code})
    prefix = f"/{translation.get_language()}/"
    if url.startswith(prefix):
        url = url[len(prefix) - 1 :]
    return request.build_absolute_uri(url)


def _current_code(request: HttpRequest, session: LiveSession, room: Room) -> dict[str, Any]:
    now = timezone.now()
    code = attendance.checkin_code(session=session, room=room, at=now)
    url = _checkin_url(request, session, room, code)
    qr = segno.make(url, error="m")
    rotates_in = (attendance.checkin_code_rotates_at(at=now) - now).total_seconds()
    return {
        "code": code,
        "url": url,
        "svg": qr.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"),
        "rotates_in": max(1, round(rotates_in)),
        "window_seconds": attendance.CHECKIN_WINDOW_SECONDS,
    }


def _display_allowed(request: HttpRequest, session_id: int, room_id: int) -> tuple[LiveSession, Room]:
    session = _session(session_id)
    room = _session_room(session, room_id)
    if not attendance_selectors.can_show_checkin_display(session=session, room=room, user=request.user):
        raise _forbidden()
    return session, room


@never_cache
@login_required
@require_GET
def room_display(request: HttpRequest, session_id: int, room_id: int) -> HttpResponse:
    session, room = _display_allowed(request, session_id, room_id)
    context: dict[str, Any] = {
        "session": session,
        "room": room,
        "ended": session.state == SessionState.ENDED,
        "refresh_seconds": DISPLAY_REFRESH_SECONDS,
        "can_keep_roster": attendance_selectors.can_keep_roster(room=room, user=request.user),
    }
    if not context["ended"]:
        context["current"] = _current_code(request, session, room)
    return render(request, "classrooms/attendance_display.html", context)


@never_cache
@login_required
@require_GET
def room_display_code(request: HttpRequest, session_id: int, room_id: int) -> JsonResponse:
    """The code to show now, as JSON: the display page asks every few seconds."""
    session, room = _display_allowed(request, session_id, room_id)
    if session.state == SessionState.ENDED:
        raise CorridorError("session_ended", _("This session has ended."), status=410)
    return JsonResponse(_current_code(request, session, room))


# Check-in ---------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, session_id: int, room_id: int, code: str) -> HttpResponse:
    """GET: look at the code and ask to confirm; POST: check in. Errors are shown on this page, for a phone."""
    session = _session(session_id)
    room = _session_room(session, room_id)
    context = {"session": session, "room": room, "code": code}
    try:
        if request.method == "POST":
            attendance.room_checkin(session=session, user=request.user, code=code, room=room)
            messages.success(request, _("You are checked in to %(room)s.") % {"room": room})
            url = reverse("classrooms:attendance-checked-in", kwargs={"session_id": session.pk, "room_id": room.pk})
            return HttpResponseRedirect(url, status=303)
        attendance.checkin_check(session=session, user=request.user, code=code, room=room)
    except CorridorError as error:
        if session_participant(session=session, user=request.user) is None:
            # As the live page: a session someone may not join is as good as none, so its refusal names neither
            # the session nor its room (a forged id and code would otherwise read any session's title).
            context = {"code": code}
        return render(request, "classrooms/attendance_checkin.html", {**context, "error": error}, status=error.status)
    return render(request, "classrooms/attendance_checkin.html", context)


@login_required
@require_GET
def checked_in(request: HttpRequest, session_id: int, room_id: int) -> HttpResponse:
    """Where a check-in lands (so reloading the page does not post the used code again)."""
    session = _session(session_id)
    room = _session_room(session, room_id)
    if session_participant(session=session, user=request.user) is None:
        raise Http404  # as the live page: a session someone may not join is as good as none (its title, its rooms)
    stay = attendance_selectors.room_stay_open(session=session, room=room, user=request.user)
    return render(
        request,
        "classrooms/attendance_checked_in.html",
        {"session": session, "room": room, "stay": stay, **_reader_clock(request)},
    )


# The roster -------------------------------------------------------------------------------


def _roster_allowed(request: HttpRequest, session_id: int, room_id: int) -> tuple[LiveSession, Room]:
    session = _session(session_id)
    room = _session_room(session, room_id)
    if not attendance_selectors.can_keep_roster(room=room, user=request.user):
        raise _forbidden()
    return session, room


@login_required
@require_http_methods(["GET", "POST"])
def roster(request: HttpRequest, session_id: int, room_id: int) -> HttpResponse:
    session, room = _roster_allowed(request, session_id, room_id)
    if request.method == "POST":
        form = form_checked(
            RosterMarkForm(request.POST, trainees=attendance_selectors.session_trainees(session=session)),
            code="invalid_roster_mark",
        )
        trainee, present = form.trainee(), form.is_present()
        attendance.roster_mark(session=session, room=room, user=trainee, present=present, by=request.user)
        message = _("%(name)s is marked present.") if present else _("%(name)s is marked absent.")
        messages.success(request, message % {"name": attendance_selectors.display_name(trainee)})
        url = reverse("classrooms:attendance-roster", kwargs={"session_id": session.pk, "room_id": room.pk})
        return HttpResponseRedirect(f"{url}#trainee-{trainee.pk}", status=303)
    presence = attendance_selectors.presence_now(session=session)
    where = {entry["user_id"]: entry for entry in presence["here"]}
    rows = []
    for trainee in attendance_selectors.session_trainees(session=session):
        entry = where.get(trainee.pk)
        if entry is None:
            status = "absent"
        elif entry["where"] == "room" and entry["room_id"] == room.pk:
            status = "here"
        elif entry["where"] == "room":
            status = "other_room"
        else:
            status = "remote"
        rows.append(
            {"user": trainee, "name": attendance_selectors.display_name(trainee), "status": status, "entry": entry}
        )
    return render(
        request,
        "classrooms/attendance_roster.html",
        {
            "session": session,
            "room": room,
            "rows": rows,
            "here_count": sum(1 for row in rows if row["status"] == "here"),
            "ended": session.state == SessionState.ENDED,
        },
    )


# The report -------------------------------------------------------------------------------


def _report_allowed(request: HttpRequest, session_id: int) -> LiveSession:
    session = _session(session_id)
    if not attendance_selectors.can_view_attendance(session=session, user=request.user):
        raise _forbidden()
    return session


@login_required
@require_GET
def report(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _report_allowed(request, session_id)
    now = timezone.now()
    clock = _reader_clock(request)
    timeline = attendance_selectors.attendance_timeline(session=session, now=now)
    rooms = list(session.rooms.all())
    return render(
        request,
        "classrooms/attendance_report.html",
        {
            "session": session,
            "report": attendance_selectors.attendance_report(session=session, now=now),
            "timeline": timeline,
            "timeline_rows": [
                {"time": moment, "counts": [s.counts[k] for s in timeline.series], "total": timeline.totals[k]}
                for k, moment in enumerate(timeline.times)
            ],
            "chart": stacked_area_chart(timeline, zone=clock["zone"]),
            "chart_summary": _chart_summary(timeline, zone=clock["zone"], city=clock["city_name"]),
            **_presence_context(attendance_selectors.presence_now(session=session, now=now)),
            "live": session.state == SessionState.LIVE,
            "rooms": [
                {
                    "room": room,
                    "display": attendance_selectors.can_show_checkin_display(
                        session=session, room=room, user=request.user
                    ),
                    "roster": attendance_selectors.can_keep_roster(room=room, user=request.user),
                }
                for room in rooms
            ],
            **clock,
        },
    )


@login_required
@require_GET
def presence(request: HttpRequest, session_id: int) -> HttpResponse:
    """Who is here now, as the report page's panel (the page refreshes it while the session is live)."""
    session = _report_allowed(request, session_id)
    return render(
        request,
        "classrooms/_attendance_presence.html",
        {
            "session": session,
            **_presence_context(attendance_selectors.presence_now(session=session)),
            **_reader_clock(request),
        },
    )


def _csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: no formula injection from a name like "=HYPERLINK(...)"."""
    text = str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@login_required
@require_GET
def report_csv(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _report_allowed(request, session_id)
    clock = _reader_clock(request)
    result = attendance_selectors.attendance_report(session=session)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attendance-session-{session.pk}.csv"'
    response.write("\ufeff")  # a byte-order mark, so Excel reads UTF-8 and shows Chinese names
    writer = csv.writer(response)
    time_format = "%Y-%m-%d %H:%M"
    writer.writerow(
        [
            _("Name"),
            _("Email"),
            _("Enrolled"),
            _("Minutes present"),
            _("Scheduled minutes"),
            _("Percentage of scheduled time"),
            _("Where from"),
            _("First seen (%(city)s time)") % {"city": clock["city_name"]},
            _("Last seen (%(city)s time)") % {"city": clock["city_name"]},
            _("Recording consent"),
            _("Recording consent answered (%(city)s time)") % {"city": clock["city_name"]},
        ]
    )
    for row in result.rows:
        writer.writerow(
            [
                _csv_cell(row.name),
                _csv_cell(row.email),
                _("yes") if row.enrolled else _("no"),
                row.minutes,
                result.scheduled_minutes,
                f"{row.percent:.1f}",
                _csv_cell("; ".join(f"{place.label} ({place.minutes} min)" for place in row.places)),
                row.first_seen.astimezone(clock["zone"]).strftime(time_format) if row.first_seen else "",
                row.last_seen.astimezone(clock["zone"]).strftime(time_format) if row.last_seen else "",
                row.recording_consent_label,
                row.recording_consent_at.astimezone(clock["zone"]).strftime(time_format)
                if row.recording_consent_at
                else "",
            ]
        )
    return response


@login_required
@require_GET
def report_stays_csv(request: HttpRequest, session_id: int) -> HttpResponse:
    """One row per stay (who, when they joined and left, for how long, where), beside the summary's one per trainee.

    Times are ISO 8601 with their UTC offset, on the reader's city clock, which the header names.
    """
    session = _report_allowed(request, session_id)
    zone = _reader_clock(request)["zone"]
    stays = attendance_selectors.attendance_stays(session=session)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attendance-stays-session-{session.pk}.csv"'
    response.write("\ufeff")  # a byte-order mark, so Excel reads UTF-8 and shows Chinese names
    writer = csv.writer(response)
    clock = {"zone": zone.key}
    sources = {
        AttendanceSource.REMOTE: _("Remote connection"),
        AttendanceSource.ROOM: _("Check-in"),
        AttendanceSource.ROSTER: _("Operator's roster"),
    }
    writer.writerow(
        [
            _("Name"),
            _("Email"),
            _("Joined (%(zone)s, ISO 8601)") % clock,
            _("Left (%(zone)s, ISO 8601)") % clock,
            _("Minutes"),
            _("Place"),
            _("City"),
            _("Recorded by"),
        ]
    )
    for stay in stays:
        writer.writerow(
            [
                _csv_cell(stay.name),
                _csv_cell(stay.email),
                stay.joined.astimezone(zone).isoformat(timespec="seconds"),
                stay.left.astimezone(zone).isoformat(timespec="seconds") if stay.left else _("still here"),
                stay.minutes,
                _csv_cell(stay.place),
                stay.city,
                sources.get(AttendanceSource(stay.source), stay.source),
            ]
        )
    return response
