"""The live session page: a participant's window into the class (Q&A, polls, raised hands, attendance).

The page is a shell: everything live arrives over the session's socket (`/ws/sessions/<id>/`,
see docs/live-protocol.md) and is drawn by `corridor/live.js`. The page gives the script its
configuration and its words, translated here, as one JSON document. Moderators' Start and End post to
`session_state`, which hands them to the same services as the socket's `session.state`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from classrooms.forms import SessionStateForm
from classrooms.models import LiveSession, RecordingConsent, SessionState
from classrooms.selectors.attendance import presence_now, recording_consent_of
from classrooms.selectors.participants import MODERATORS, Participant, session_participant
from classrooms.selectors.timetable import scheduled_sessions
from classrooms.services.alerts import session_alerts_json
from classrooms.services.consent import recording_consent_record
from classrooms.services.polls import MAX_CHOICES
from classrooms.services.qa import ANSWER_MAX_LENGTH, QUESTION_MAX_LENGTH
from classrooms.services.sessions import START_EARLY, session_set_state
from classrooms.views.auditing import audited
from lms.accounts.models import Region
from lms.errors import CorridorError
from lms.timezones import city_time_zone

HEARTBEAT_SECONDS = 10
# The limits services.polls.poll_open enforces (it names no constants for them).
POLL_PROMPT_MAX_LENGTH = 300
POLL_CHOICE_MAX_LENGTH = 200


def socket_path(session_id: int) -> str:
    return f"/ws/sessions/{session_id}/"


def _url_or_none(name: str, **kwargs: Any) -> str | None:
    """A page another area provides, if it is there: the live page does not depend on it."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def live_strings() -> dict[str, Any]:
    """Every word live.js shows, in the active language. `{name}` marks a value the script fills in."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Connected"),
        "reconnecting": _("Connection lost. Reconnecting in {seconds} s…"),
        "reconnectNow": _("Reconnect now"),
        "offline": _("You are offline. Reconnecting when the network is back…"),
        "closed": _("Disconnected: {reason} (code {code})"),
        "closedNoReason": _("Disconnected (code {code})"),
        "ended": _("Session ended"),
        "sessionEnded": _("This session has ended."),
        "sessionScheduled": _("This session has not started yet. You can already ask questions."),
        "stateScheduled": _("Scheduled"),
        "stateLive": _("Live"),
        "stateEnded": _("Ended"),
        # The session's time on the reader's own clock (corridor/viewer-time.js), e.g. "12:00–13:30 your time
        # (Australia/Sydney)".
        "yourTime": _("{time} your time ({zone})"),
        "unknownError": _("Something went wrong. Please try again."),
        # Start, End and the lobby
        "lobbyStartsIn": _("Starts in {time}"),
        "lobbyAnyMoment": _("The instructor will start the session at any moment."),
        "lobbyDays": _("{days} d {hours} h"),
        "startOpensAt": _("You can start the session from {time}, 15 minutes before it is scheduled to begin."),
        "startReady": _("Start the session when you are ready: everyone waiting is let in."),
        "started": _("The session is live."),
        "ending": _("Ending the session…"),
        "starting": _("Starting the session…"),
        "notConnected": _("Not connected: wait for the connection to come back, then try again."),
        # Questions
        "noQuestions": _("No questions yet — be the first to ask."),
        "noQuestionsModerator": _("No questions yet."),
        "charactersLeft": _("{count} / {limit} characters"),
        "tooLong": _("A question is limited to {limit} characters."),
        "writeSomething": _("Write something first."),
        "asked": _("Your question has been sent."),
        "upvote": _("Upvote"),
        "takeBackVote": _("Take back your vote"),
        "votes": {"one": _("{count} vote"), "other": _("{count} votes")},
        "pinned": _("Pinned"),
        "answered": _("Answered"),
        "hidden": _("Hidden from trainees"),
        "answerBy": _("Answer from {name}"),
        "answer": _("Answer"),
        "editAnswer": _("Edit answer"),
        "yourAnswer": _("Your answer"),
        "sendAnswer": _("Send answer"),
        "cancel": _("Cancel"),
        "pin": _("Pin"),
        "unpin": _("Unpin"),
        "hide": _("Hide"),
        "unhide": _("Unhide"),
        "markAnswered": _("Mark answered"),
        "markUnanswered": _("Mark unanswered"),
        "moderationFor": _("Moderate: {text}"),
        # Polls
        "noPolls": _("No polls yet."),
        "pollOpen": _("Open"),
        "pollClosed": _("Closed"),
        "closePoll": _("Close poll"),
        "choice": _("Choice {n}"),
        "removeChoice": _("Remove choice {n}"),
        "pollNeedsPrompt": _("Write the poll's question."),
        "pollNeedsChoices": _("A poll needs 2 to {max} choices."),
        "voteFor": _("Vote: {choice}"),
        "youVoted": _("You voted: {choice}"),
        "youVotedUnknown": _("You have voted in this poll."),
        "resultLine": _("{count} ({percent}%)"),
        "totalVotes": {"one": _("{count} vote in total"), "other": _("{count} votes in total")},
        # Hands
        "raiseHand": _("Raise hand"),
        "lowerHand": _("Lower hand"),
        "handRaised": _("Your hand is raised: the instructor can see it."),
        "handDown": _("Raise your hand to speak."),
        "handLoweredByInstructor": _("The instructor lowered your hand."),
        "noHands": _("No hands raised."),
        "lowerHandOf": _("Lower {name}'s hand"),
        "lower": _("Lower"),
        "raisedAt": _("raised at {time}"),
        "inviteToSpeak": _("Invite to speak"),
        "inviteToSpeakName": _("Invite {name} to speak"),
        # Attendance
        "attendanceSummary": _("{count} here of {enrolled} enrolled"),
        "remote": _("Remote"),
        "hereNow": _("Here now"),
        "hasLeft": _("Has left"),
        "nobodyHere": _("Nobody is here yet."),
        "nobodyLeft": _("Nobody has left."),
        "since": _("since {time}"),
        "leftAt": _("left at {time}"),
        "asOf": _("As of {time}."),
        # Recording
        "recordingStarted": _("This session is being recorded."),
        "consentAgreed": _("You agreed to be recorded."),
        "consentDeclined": _("You follow the class without being recorded: you cannot speak while it is recorded."),
        "recordingStopped": _("Recording has stopped."),
        # The socket's error frames by code, in the page's language (the socket speaks English).
        "errors": {
            "session_ended": _("This session has ended."),
            "invalid_text": _("Write something first."),
            "text_too_long": _("That is too long: shorten it and try again."),
            "rate_limited": _("Too many at once: wait a moment, then try again."),
            "forbidden": _("Only the instructor or a moderator can do that."),
            "question_not_found": _("That question does not exist."),
            "question_hidden": _("That question has been hidden by a moderator."),
            "poll_not_found": _("That poll does not exist."),
            "poll_closed": _("This poll is closed."),
            "invalid_choice": _("That is not one of the poll's choices."),
            "already_voted": _("You have already voted in this poll."),
            "invalid_poll": _("A poll needs a question and 2 to {max} choices.").replace("{max}", str(MAX_CHOICES)),
            "unauthenticated": _("Sign in to join this session."),
            "session_not_found": _("That session does not exist."),
            "forbidden_now": _("You are no longer a participant of this session."),
            "signed_out": _("You signed out."),
            "role_changed": _("You are no longer a participant of this session."),
            "already_live": _("This session is already live."),
            "too_early": _("It is too early to start this session: you can start it 15 minutes before it begins."),
            "too_late": _("This session's scheduled time is over: schedule a new one."),
            "invalid_state": _("Choose start or end."),
            "not_a_trainee": _("Only a trainee of this session can be invited to speak."),
        },
        "refusals": {
            # Close reasons on connect: "forbidden" there means not a participant at all.
            "forbidden": _("You are not a participant of this session."),
        },
    }


def media_strings() -> dict[str, Any]:
    """Every word media.js shows, in the active language."""
    return {
        "connecting": _("Connecting to video…"),
        "connected": _("Video connected"),
        "reconnecting": _("Video connection lost. Reconnecting…"),
        "closed": _("Video unavailable"),
        "waiting": _("Video starts when the session does."),
        "ended": _("The session has ended: video is off."),
        "publish": _("Publish my camera"),
        "stopPublishing": _("Stop publishing"),
        "mute": _("Mute"),
        "unmute": _("Unmute"),
        "cameraOff": _("Camera off"),
        "cameraOn": _("Camera on"),
        "noCamera": _("Your camera or microphone could not be opened."),
        "revoked": _("The instructor stopped your camera."),
        "error": _("The video connection reported a problem. Please try again."),
        "bitrate": _("Bitrate"),
        "rtt": _("Round trip"),
        "loss": _("Packet loss"),
        "fps": _("Frames per second"),
        "sending": _("Sending"),
        "receiving": _("Receiving"),
        "cities": {region.value: str(region.label) for region in Region},
        # Tiles
        "pin": _("Pin large"),
        "unpin": _("Unpin"),
        "pinLabel": _("Show {name} large"),
        "unpinLabel": _("Stop showing {name} large"),
        "roomMuted": _("Muted"),
        "muteRoom": _("Mute room"),
        "unmuteRoom": _("Unmute room"),
        "muteRoomLabel": _("Mute the microphone of {name}"),
        "unmuteRoomLabel": _("Unmute the microphone of {name}"),
        "roomPaused": _("{name}: paused by an operator"),
        "stopSpeaker": _("Stop"),
        "stopSpeakerLabel": _("Stop {name} speaking"),
        "instructor": _("Instructor"),
        # Invited to speak
        "inviteTitle": _("You are invited to speak"),
        "inviteText": _(
            "The instructor invites you to speak. If you accept, your camera and microphone are shared with "
            "everyone in the session until you or the instructor stop."
        ),
        "inviteRecorded": _("This session is being recorded: you will be recorded while you speak."),
        "accept": _("Accept"),
        "decline": _("Decline"),
        "declined": _("{name} declined to speak."),
        "invited": _("Invitation sent to {name}."),
        "errors": {
            "forbidden": _("Only the instructor or a moderator can do that."),
            "not_a_trainee": _("Only a trainee of this session can be invited to speak."),
            "unknown_room": _("That room is not part of this session."),
            "not_invited": _("You have not been invited to speak."),
            "recording_consent_required": _(
                "This session is recorded and you have not agreed to be recorded, so you cannot speak."
            ),
            "not_consented": _("This trainee has not agreed to be recorded, so cannot speak while it is recorded."),
        },
    }


@never_cache
@login_required
@require_safe
def live_session(request: HttpRequest, session_id: int) -> HttpResponse:
    session = (
        LiveSession.objects.select_related("course", "module", "instructor")
        .prefetch_related("rooms")
        .filter(pk=session_id)
        .first()
    )
    participant = session_participant(session=session, user=request.user) if session else None
    if session is None or participant is None:
        # A session someone may not join is as good as none: the page does not say it exists.
        raise Http404
    user: Any = request.user
    language = translation.get_language() or "en"
    city = getattr(user, "home_region", "")
    [scheduled] = scheduled_sessions(sessions=[session], language=language, city=city)
    is_moderator = participant in MODERATORS
    # The instructor, administrators and the rooms' operators may read the attendance report.
    may_see_report = participant in MODERATORS | {Participant.OPERATOR}
    report_url = _url_or_none("classrooms:attendance-report", session_id=session.pk) if may_see_report else None
    scheme = "wss" if request.is_secure() else "ws"
    is_trainee = participant == Participant.TRAINEE
    consent = recording_consent_of(session=session, user_id=user.pk) if is_trainee else ""
    config = {
        "sessionId": session.pk,
        "userId": user.pk,
        # Whether the session is recorded now (the page root's data-recording="on"|"off" is kept current).
        "recorded": session.recorded,
        "role": participant.value,
        "moderator": is_moderator,
        "trainee": participant == Participant.TRAINEE,
        "socketUrl": f"{scheme}://{request.get_host()}{socket_path(session.pk)}",
        "socketPath": socket_path(session.pk),
        "heartbeatSeconds": HEARTBEAT_SECONDS,
        "language": language,
        "timeZone": city_time_zone(city).key,
        "questionMaxLength": QUESTION_MAX_LENGTH,
        "answerMaxLength": ANSWER_MAX_LENGTH,
        "pollMaxChoices": MAX_CHOICES,
        "pollChoiceMaxLength": POLL_CHOICE_MAX_LENGTH,
        # The lobby counts down to the scheduled start; moderators may start from START_EARLY before it.
        "startsAt": session.starts_at.isoformat(),
        "startOpensAt": (session.starts_at - START_EARLY).isoformat(),
        # A trainee's answer to the recording consent: "agreed", "declined" or "" (asked when recording is on).
        "recordingConsent": consent,
        "consentUrl": reverse("classrooms:live-recording-consent", kwargs={"session_id": session.pk})
        if is_trainee
        else None,
        "stateUrl": reverse("classrooms:live-session-state", kwargs={"session_id": session.pk})
        if is_moderator
        else None,
        # Who is here when the page opens (moderators only); "attendance.updated" events keep it current.
        "attendance": presence_now(session=session, now=timezone.now()) if is_moderator else None,
    }
    return render(
        request,
        "classrooms/live_session.html",
        {
            "session": session,
            "scheduled": scheduled,
            "participant": participant,
            "is_moderator": is_moderator,
            "is_trainee": is_trainee,
            "recording_consent": consent,
            # The "● Recording" indicator, the moderators' toggle and the trainee's notice start from this.
            "recording_on": session.recorded and session.state != SessionState.ENDED,
            # Trainees wait in the lobby until the session goes live (live.js lets them in without a reload).
            "in_lobby": participant == Participant.TRAINEE and session.state == SessionState.SCHEDULED,
            "start_opens_at": timezone.localtime(session.starts_at - START_EARLY, city_time_zone(city)),
            "may_start_now": timezone.now() >= session.starts_at - START_EARLY,
            "attendance_report_url": report_url,
            "question_max_length": QUESTION_MAX_LENGTH,
            "poll_prompt_max_length": POLL_PROMPT_MAX_LENGTH,
            "poll_max_choices": MAX_CHOICES,
            "live_config": config,
            "page_strings": {**live_strings(), "media": media_strings()},
            # Operators' alerts about the session's rooms and the cities' link (its socket pushes the changes).
            "alerts_initial": session_alerts_json(session=session)
            if participant in MODERATORS | {Participant.OPERATOR}
            else None,
        },
    )


@login_required
@require_POST
@audited("session.state", target=lambda kwargs: f"session {kwargs['session_id']}")
def session_state(request: HttpRequest, session_id: int) -> HttpResponse:
    """A moderator's Start or End (the live page posts here). Refusals come from the services, in the page's
    language, as JSON for the page's script or as a message on the page it came from."""
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None or session_participant(session=session, user=request.user) is None:
        raise Http404  # as the page: a session someone may not join is as good as none
    form = SessionStateForm(request.POST)
    if not form.is_valid():
        raise CorridorError("invalid_state", _("Choose start or end."))
    session = session_set_state(session=session, state=form.state_value(), by=request.user)
    text = _("The session is live.") if session.state == SessionState.LIVE else _("This session has ended.")
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"state": session.state, "message": text})
    messages.success(request, text)
    return HttpResponseRedirect(reverse("classrooms:live-session", kwargs={"session_id": session.pk}), status=303)


@login_required
@require_POST
def recording_consent(request: HttpRequest, session_id: int) -> HttpResponse:
    """A trainee's answer to "I agree to be recorded" / "Not now" (the live page's dialog posts here), kept on their
    attendance record. JSON for the page's script, else back to the page with a message."""
    session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
    if session is None or session_participant(session=session, user=request.user) is None:
        raise Http404  # as the page: a session someone may not join is as good as none
    answer = request.POST.get("answer", "")
    if answer not in {RecordingConsent.AGREED, RecordingConsent.DECLINED}:
        raise CorridorError("invalid_answer", _("Choose whether you agree to be recorded."))
    user: Any = request.user
    record = recording_consent_record(session=session, user=user, agreed=answer == RecordingConsent.AGREED)
    agreed = record.recording_consent == RecordingConsent.AGREED
    text = (
        _("You agreed to be recorded.")
        if agreed
        else _("You follow the class without being recorded: you cannot speak while it is recorded.")
    )
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"consent": record.recording_consent, "message": text})
    messages.success(request, text)
    return HttpResponseRedirect(reverse("classrooms:live-session", kwargs={"session_id": session.pk}), status=303)
