import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatementState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    FAILING = "failing", _("Failing")
    SENT = "sent", _("Sent")


class QueuedStatement(models.Model):
    """One xAPI statement waiting for (or past) its delivery to the learning record store.

    Its primary key is the statement's own `id`, fixed when it is queued and derived from the event (one row per
    event, however often the event is reported), so a statement the LRS already stored is recognised there (409, or
    stored once) and never counted twice. A statement is never dropped: a failing one waits for `next_attempt_at`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    statement = models.JSONField()
    verb = models.CharField(_("verb"), max_length=200)
    state = models.CharField(_("state"), max_length=16, choices=StatementState.choices, default=StatementState.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("xAPI statement")
        verbose_name_plural = _("xAPI statements")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="xapi_due")]

    def __str__(self) -> str:
        return f"{self.verb} {self.id} ({self.state})"
