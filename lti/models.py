"""A partner's platform registered with Corridor, Corridor's own signing keys, and who a platform's `sub` is here."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Platform(models.Model):
    """One registration of Corridor as a tool in a partner's LMS: what that LMS showed when Corridor was added.

    A platform's id_tokens are checked against its key set: fetched from `key_set_url`, or the JSON Web Key Set
    pasted into `key_set` when the platform publishes none."""

    name = models.CharField(_("name"), max_length=120)
    issuer = models.URLField(_("issuer"), max_length=500, help_text=_("The platform's issuer (iss), e.g. its URL."))
    client_id = models.CharField(
        _("client ID"), max_length=255, help_text=_("The client ID the platform gave Corridor.")
    )
    deployment_ids = models.TextField(
        _("deployment IDs"), help_text=_("The platform's deployment IDs for Corridor, one a line.")
    )
    auth_login_url = models.URLField(_("authentication request URL"), max_length=500)
    auth_token_url = models.URLField(_("access token URL"), max_length=500)
    key_set_url = models.URLField(_("key set URL"), max_length=500, blank=True)
    key_set = models.JSONField(
        _("public key set"),
        blank=True,
        null=True,
        help_text=_("The platform's public keys (a JSON Web Key Set), when it publishes no key set URL."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("LTI platform")
        verbose_name_plural = _("LTI platforms")
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_issuer_client")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.key_set_url and not self.key_set:
            raise ValidationError(_("Give the platform's key set URL or paste its public key set."))
        if self.key_set and not (isinstance(self.key_set, dict) and isinstance(self.key_set.get("keys"), list)):
            raise ValidationError({"key_set": _('A key set is a JSON object with a "keys" list.')})
        if not self.deployment_id_list():
            raise ValidationError({"deployment_ids": _("Give at least one deployment ID.")})

    def deployment_id_list(self) -> list[str]:
        return [line.strip() for line in self.deployment_ids.splitlines() if line.strip()]


class ToolKey(models.Model):
    """One of Corridor's RSA keys. The newest unretired key signs; the keys not retired are published (JWKS), so a
    platform still verifies what the previous key signed while it refreshes its copy."""

    kid = models.CharField(_("key ID"), max_length=100, unique=True)
    private_key_pem = models.TextField(_("private key"))
    public_key_pem = models.TextField(_("public key"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("LTI tool key")
        verbose_name_plural = _("LTI tool keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.kid


class PlatformAccount(models.Model):
    """A platform's user (its `sub`) is this Corridor user."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="accounts")
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_accounts")
    created_at = models.DateTimeField(auto_now_add=True)
    last_launch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "sub"], name="lti_account_platform_sub")]

    def __str__(self) -> str:
        return f"{self.platform}: {self.sub}"


class UsedNonce(models.Model):
    """A launch's nonce, once accepted: a second launch with it is a replay and is refused."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="used_nonces")
    nonce = models.CharField(max_length=255)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "nonce"], name="lti_nonce_once")]

    def __str__(self) -> str:
        return self.nonce


class ScoreLink(models.Model):
    """A platform line item that a launch gave Corridor (LTI Assignment and Grade Services): the learner's quiz
    results in the linked course (or lesson), or their attendance of the linked live session, are posted to it."""

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="score_links")
    course_key = models.UUIDField()
    lesson_key = models.UUIDField(null=True, blank=True)
    # A live session's link: its attendance percentage is the score, once the session has ended.
    session_id = models.PositiveBigIntegerField(null=True, blank=True)
    lineitem_url = models.URLField(max_length=500)
    endpoint = models.JSONField(help_text="The launch's AGS endpoint claim (scopes, line item URLs).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "lineitem_url"], name="lti_score_link_once")]

    def __str__(self) -> str:
        return self.lineitem_url


class ScoreDeliveryState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Not delivered yet (retrying)")


class ScoreDelivery(models.Model):
    """One score for one line item (a quiz attempt's result), sent once: `source` names what it reports."""

    link = models.ForeignKey(
        ScoreLink, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("line item")
    )
    source = models.CharField(_("result"), max_length=100)
    score_given = models.FloatField(_("score"))
    score_maximum = models.FloatField(_("out of"))
    state = models.CharField(
        _("state"), max_length=20, choices=ScoreDeliveryState.choices, default=ScoreDeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("grade passback")
        verbose_name_plural = _("grade passbacks")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["link", "source"], name="lti_score_delivery_once")]

    def __str__(self) -> str:
        return f"{self.source} → {self.link}"


class PlatformContext(models.Model):
    """A platform course (its LTI context) that launched Corridor with Names and Role Provisioning Services: where its
    roster is read (`memberships_url`), which Corridor course its links open, and which Corridor users launched from
    it as instructors (they, and administrators, may pull its roster)."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="contexts")
    context_id = models.CharField(max_length=255)
    title = models.CharField(_("platform course"), max_length=255)
    course_key = models.UUIDField()
    memberships_url = models.URLField(max_length=500)
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="lti_contexts_taught", blank=True)
    cohort = models.ForeignKey(
        "accounts.Cohort", on_delete=models.SET_NULL, null=True, blank=True, related_name="lti_contexts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "context_id"], name="lti_context_once")]

    def __str__(self) -> str:
        return f"{self.platform}: {self.title or self.context_id}"


class RosterPullState(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    RUNNING = "running", _("Reading the roster")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RosterPull(models.Model):
    """One pull of a platform course's roster into its cohort (a Celery task), and what it did."""

    context = models.ForeignKey(PlatformContext, on_delete=models.CASCADE, related_name="pulls")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    state = models.CharField(max_length=16, choices=RosterPullState.choices, default=RosterPullState.QUEUED)
    added = models.PositiveIntegerField(default=0)
    already_there = models.PositiveIntegerField(default=0)
    skipped_staff = models.PositiveIntegerField(default=0)
    skipped_inactive = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.context} ({self.state})"

    @property
    def in_progress(self) -> bool:
        return self.state in {RosterPullState.QUEUED, RosterPullState.RUNNING}
