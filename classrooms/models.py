"""Rooms, live sessions, and what happens in them: attendance, questions, polls, raised hands."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lms.accounts.models import Region


class Room(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    city = models.CharField(_("city"), max_length=16, choices=Region.choices)
    capacity = models.PositiveIntegerField(_("capacity"), default=30)
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="operated_rooms", verbose_name=_("operators")
    )

    class Meta:
        verbose_name = _("room")
        ordering = ["city", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_city_display()})"


class SessionState(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")


class LiveSession(models.Model):
    """One class, taught at once in one or both rooms and online."""

    title = models.CharField(_("title"), max_length=200)
    course = models.ForeignKey(
        "courses.CoursePage", on_delete=models.PROTECT, related_name="live_sessions", verbose_name=_("course")
    )
    module = models.ForeignKey(
        "courses.ModulePage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="live_sessions",
        verbose_name=_("module"),
    )
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="taught_sessions", verbose_name=_("instructor")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    rooms = models.ManyToManyField(Room, blank=True, related_name="sessions", verbose_name=_("rooms"))
    online_seats = models.PositiveIntegerField(_("online seats"), default=50)
    state = models.CharField(_("state"), max_length=16, choices=SessionState.choices, default=SessionState.SCHEDULED)
    # Set once the reminder email has gone out, so a retried or overlapping beat run sends it once.
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("live session")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def group_name(self) -> str:
        """The channel-layer group every participant's socket joins."""
        return f"live-session-{self.pk}"


class AttendanceSource(models.TextChoices):
    REMOTE = "remote", _("Remote")
    ROOM = "room", _("In the room")
    ROSTER = "roster", _("Operator's roster")


class AttendanceRecord(models.Model):
    """One per trainee per session; its stays come from every source and are merged.

    Services lock this row (SELECT ... FOR UPDATE) before touching its stays, so two
    sockets, a scan and a roster mark for the same trainee apply one after the other.
    """

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendance")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_attendance_per_session")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.session_id}"


class AttendanceStay(models.Model):
    """One continuous stretch of presence from one source: remote, or in one room.

    A stay is open while `ended_at` is empty. A remote stay stays open while any of
    the trainee's sockets is (`open_sockets`, counted across every server process)
    and its heartbeats keep `last_seen_at` fresh; an in-room stay (check-in or roster)
    stays open until the trainee is marked absent or checks in elsewhere.
    """

    record = models.ForeignKey(AttendanceRecord, on_delete=models.CASCADE, related_name="stays")
    source = models.CharField(max_length=16, choices=AttendanceSource.choices)
    room = models.ForeignKey(Room, on_delete=models.SET_NULL, null=True, blank=True)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # Remote stays: sockets open now (one user may have two tabs, on different processes).
    open_sockets = models.PositiveIntegerField(default=0)
    # Ended because no heartbeat came in time (a dead socket or a crashed process), not by a
    # clean disconnect: a heartbeat that still arrives for it means the socket lives, and reopens it.
    timed_out = models.BooleanField(default=False)
    # Roster stays: the operator who marked the trainee present.
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["started_at"]
        indexes = [
            models.Index(fields=["record", "source", "ended_at"]),
            # The stale-presence sweep (every 10 s) reads only open stays.
            models.Index(
                fields=["last_seen_at"], condition=models.Q(ended_at__isnull=True), name="attendance_open_stays"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%H:%M}–{self.ended_at or self.last_seen_at:%H:%M}"


class AttendanceCheckin(models.Model):
    """A room check-in code used by a trainee. One use per code and trainee: a replayed code is refused.

    The code names its 30-second `window` (see services.attendance.checkin_code).
    """

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="checkins")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="checkins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    window = models.BigIntegerField()
    checked_in_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "room", "user", "window"], name="one_use_per_checkin_code")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} at {self.session_id} (window {self.window})"


class Question(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="questions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    vote_count = models.PositiveIntegerField(default=0)
    pinned = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)
    answer = models.TextField(blank=True, max_length=4000)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pinned", "-vote_count", "created_at"]
        indexes = [models.Index(fields=["session", "id"])]

    def __str__(self) -> str:
        return self.text[:60]


class QuestionVote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "user"], name="one_vote_per_question")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.question_id}"


class Poll(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="polls")
    prompt = models.CharField(max_length=300)
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.prompt


class PollChoice(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.text


class PollVote(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="votes")
    choice = models.ForeignKey(PollChoice, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "user"], name="one_vote_per_poll")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.choice_id}"


class RaisedHand(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="raised_hands")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    lowered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], condition=models.Q(lowered_at__isnull=True), name="one_raised_hand"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ✋ {self.session_id}"


class LiveEvent(models.Model):
    """The session's outbox: every change a participant sees, written in the same transaction as the change.

    Broadcasts carry the event id; a client that reconnects asks for the events
    after the last id it saw, so nothing is lost between two sockets.
    """

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    payload = models.JSONField()
    moderators_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["session", "id"])]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.pk} {self.kind}"


class DeviceKind(models.TextChoices):
    CAMERA = "camera", _("Camera")
    MICROPHONE = "microphone", _("Microphone")
    DISPLAY = "display", _("Display")
    ENCODER = "encoder", _("Encoder")
    AGENT = "agent", _("Room agent")


class Device(models.Model):
    """A piece of a room's equipment, as its room agent last reported it (the agent is a device too).

    `health` holds the figures of the last report (fps, bitrate, cpu, temperature, link RTT/loss, publishing);
    `DeviceHealthSample` keeps the last minutes of them for the operator's charts.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="devices", verbose_name=_("room"))
    kind = models.CharField(_("kind"), max_length=16, choices=DeviceKind.choices)
    name = models.CharField(_("name"), max_length=120)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    health = models.JSONField(_("health"), default=dict, blank=True)
    publishing = models.BooleanField(_("publishing"), default=False)
    # Room agents: whether an operator asked the room to stream (kept across restarts of either side), and the
    # last command sent to the agent with its result ({"id", "command", "sent_at", "ok", "message", "done_at"}).
    stream_requested = models.BooleanField(_("stream requested"), default=False)
    last_command = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("device")
        ordering = ["room", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["room", "kind", "name"], name="one_device_per_room_kind_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.room.name})"


class DeviceToken(models.Model):
    """A room agent's credential. Only the SHA-256 of the token is stored; the token is shown once, when issued."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    # The token's first characters, to tell tokens apart in lists (too short to help a guess).
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.device})"


class DeviceHealthSample(models.Model):
    """One health report's figures for one device; services keep only the last minutes."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    fps = models.FloatField(null=True, blank=True)
    bitrate_kbps = models.FloatField(null=True, blank=True)
    rtt_ms = models.FloatField(null=True, blank=True)
    loss_pct = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["device", "at"])]

    def __str__(self) -> str:
        return f"{self.device_id} at {self.at:%H:%M:%S}"
