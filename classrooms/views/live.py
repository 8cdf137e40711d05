"""The live session page: a participant's window into the class (Q&A, polls, raised hands, attendance).

The page is a shell: everything live arrives over the session's socket (`/ws/sessions/<id>/`,
see docs/live-protocol.md) and is drawn by `corridor/live.js`. The page gives the script its
configuration and its words, translated here, as one JSON document.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from classrooms.models import LiveSession
from classrooms.selectors.attendance import presence_now
from classrooms.selectors.participants import MODERATORS, Participant, session_participant
from classrooms.selectors.timetable import scheduled_sessions
from classrooms.services.polls import MAX_CHOICES
from classrooms.services.qa import ANSWER_MAX_LENGTH, QUESTION_MAX_LENGTH
from lms.accounts.models import Region
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
        "unknownError": _("Something went wrong. Please try again."),
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
    config = {
        "sessionId": session.pk,
        "userId": user.pk,
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
            "is_trainee": participant == Participant.TRAINEE,
            "attendance_report_url": report_url,
            "question_max_length": QUESTION_MAX_LENGTH,
            "poll_prompt_max_length": POLL_PROMPT_MAX_LENGTH,
            "poll_max_choices": MAX_CHOICES,
            "live_config": config,
            "page_strings": {**live_strings(), "media": media_strings()},
        },
    )
