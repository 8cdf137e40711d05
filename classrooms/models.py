"""Rooms, live sessions, and what happens in them: attendance, questions, polls, raised hands."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
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
    # Whether the SFU records its publishers while it is live: a moderator switches it on the live page, and
    # scheduling sets its default (streaming.selectors.session_is_recorded reads it).
    recorded = models.BooleanField(_("record this session"), default=False)
    # When it actually went live and ended (the schedule is starts_at/ends_at).
    live_since = models.DateTimeField(_("went live at"), null=True, blank=True, editable=False)
    live_until = models.DateTimeField(_("ended at"), null=True, blank=True, editable=False)
    # Set once the reminder email has gone out, so a retried or overlapping beat run sends it once.
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A one-to-one (an internship check-in): only this person joins besides the instructor and administrators, not
    # the course's enrolled trainees (selectors.participants). Empty: a class, open to everyone enrolled.
    one_to_one_with = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="one_to_one_sessions",
        verbose_name=_("one-to-one with"),
    )

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


class RecordingConsent(models.TextChoices):
    NOT_ASKED = "", _("Not asked")
    AGREED = "agreed", _("Agreed")
    DECLINED = "declined", _("Declined")


class AttendanceRecord(models.Model):
    """One per trainee per session; its stays come from every source and are merged.

    Services lock this row (SELECT ... FOR UPDATE) before touching its stays, so two
    sockets, a scan and a roster mark for the same trainee apply one after the other.

    It also keeps the trainee's answer to the recording consent (services.consent) and, once the retention task
    has deleted its stays (services.retention), the seconds they attended, which certificates still read.
    """

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendance")
    recording_consent = models.CharField(
        _("recording consent"), max_length=16, choices=RecordingConsent.choices, default="", blank=True
    )
    recording_consent_at = models.DateTimeField(_("recording consent answered at"), null=True, blank=True)
    # Whether the session was being recorded when the trainee answered (the state their answer was about).
    recording_consent_while_recorded = models.BooleanField(default=False)
    # Set with `attended_seconds` when the stays and check-ins were deleted past RETENTION_ATTENDANCE_DETAIL_DAYS.
    detail_pruned_at = models.DateTimeField(null=True, blank=True, editable=False)
    attended_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)

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


class DeviceReview(models.TextChoices):
    ACCEPTED = "accepted", _("Registered")
    PENDING = "pending", _("Unknown, needs review")
    DISMISSED = "dismissed", _("Dismissed")


class Device(models.Model):
    """A piece of a room's equipment, as its room agent last reported it (the agent is a device too).

    `health` holds the figures of the last report (fps, bitrate, cpu, temperature, link RTT/loss, publishing);
    `DeviceHealthSample` keeps the last minutes of them for the operator's charts.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="devices", verbose_name=_("room"))
    kind = models.CharField(_("kind"), max_length=16, choices=DeviceKind.choices)
    name = models.CharField(_("name"), max_length=120)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    # When the agent's control socket last opened (agents only): its devices are judged silent from then, since a
    # returning agent reports them a moment after it connects.
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True, editable=False)
    health = models.JSONField(_("health"), default=dict, blank=True)
    publishing = models.BooleanField(_("publishing"), default=False)
    # Room agents: whether the room streams its live sessions (its agent publishes whenever a session held in the
    # room is live), and the last command sent to the agent with its result ({"id", "command", "sent_at", "ok",
    # "message", "done_at"}).
    stream_requested = models.BooleanField(_("streams its sessions"), default=True)
    # Room agents: an operator stopped the room's stream during this session; it holds until that session ends
    # (the room's next session streams again), or until an operator starts it again.
    stream_stopped_session = models.ForeignKey(
        LiveSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("stream stopped for session"),
    )
    # Room agents: a moderator or operator muted the room's microphone (the agent sends no audio while set).
    microphone_muted = models.BooleanField(_("microphone muted"), default=False)
    last_command = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The registry (administrators and the room's operators keep it): what the device is and where it answers.
    model = models.CharField(_("model"), max_length=120, blank=True)
    address = models.CharField(
        _("network address"), max_length=255, blank=True, help_text=_("Host name or IP address on the room's network.")
    )
    # Cameras: VISCA over IP (UDP; Sony's default port is 52381) and the names of presets 1–6 ({"1": "Lectern"}).
    visca_port = models.PositiveIntegerField(
        _("VISCA port"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    presets = models.JSONField(_("preset names"), default=dict, blank=True)
    # Registered devices are "accepted"; a name an agent reports that nobody registered is "pending" (shown as
    # unknown, needs review) until an operator accepts or dismisses it; a dismissed name's reports are ignored.
    review = models.CharField(_("review"), max_length=16, choices=DeviceReview.choices, default=DeviceReview.ACCEPTED)

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


class AlertKind(models.TextChoices):
    SILENT = "silent", _("Silent")
    LINK_LOSS = "link_loss", _("Packet loss")


class Alert(models.Model):
    """Something an operator must look at now: a room agent or device gone silent, or a link losing packets.

    One open alert per `key` (what it is about: "silent:device:<id>", "loss:room:<id>", "loss:cross"); recovery
    sets `cleared_at`, and a later fault opens a new one. Raised and cleared by `services.alerts.alerts_check`.
    """

    key = models.CharField(max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=AlertKind.choices)
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts", verbose_name=_("room")
    )
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    # The figures at the time it was raised (e.g. {"loss_pct": 6.2, "silent_s": 16}, "peer": the link's nodes).
    details = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    # Set once its email went out: a retried or overlapping check sends it once.
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("alert")
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=models.Q(cleared_at__isnull=True), name="one_open_alert")
        ]

    def __str__(self) -> str:
        return f"{self.key} since {self.raised_at:%H:%M:%S}"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: object) -> int:
        raise TypeError("The audit log cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit log cannot be deleted from.")


class AuditEntry(models.Model):
    """One operator's or administrator's action: who, what, on what, when, from where, and how it ended.

    Written only by `services.audit.audit_record`; never changed or deleted (save() refuses an existing row, the
    queryset refuses update() and delete(), and the admin offers neither), but for erasing a person, whose name it
    then no longer holds (`services.personal_data.classrooms_erase_user`, docs/privacy.md).
    """

    at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    # Kept as text too: the log must still say who it was after an account is deleted.
    actor_name = models.CharField(_("who"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    target = models.CharField(_("target"), max_length=200, blank=True)
    room = models.ForeignKey(
        Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("room")
    )
    result = models.CharField(_("result"), max_length=20, default="ok")
    address = models.GenericIPAddressField(_("from"), null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise TypeError("The audit log cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit log cannot be deleted from.")


class LinkScope(models.TextChoices):
    ROOM = "room", _("Room to media server")
    CROSS = "cross", _("Singapore–Chongqing")


class LinkSample(models.Model):
    """A link's figures at one moment: a room's link to its media node (from its agent's health report), or the
    link between the two cities' media nodes (from the nodes' records). Kept with the live session it served, so a
    session's link quality can be read after it."""

    scope = models.CharField(max_length=8, choices=LinkScope.choices)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, null=True, blank=True, related_name="link_samples")
    session = models.ForeignKey(
        LiveSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="link_samples"
    )
    # The cross-border link: the two nodes ("node-a→node-b").
    peer = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField()
    rtt_ms = models.FloatField(null=True, blank=True)
    loss_pct = models.FloatField(null=True, blank=True)
    jitter_ms = models.FloatField(null=True, blank=True)
    bitrate_kbps = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["at"]
        indexes = [
            models.Index(fields=["scope", "room", "at"]),
            models.Index(fields=["session", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.room_id or self.peer} at {self.at:%H:%M:%S}"
