"""The administrators' page of the xAPI queue: counts per state, the failing statements, "Retry now"."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lms.accounts.roles import Role, user_roles
from lms.xapi import selectors, services, tasks

FAILING_SHOWN = 200


def _require_administrator(request: HttpRequest) -> None:
    if Role.ADMINISTRATOR not in user_roles(request.user):
        raise PermissionDenied(_("Only administrators can see the xAPI statements."))


@never_cache
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    _require_administrator(request)
    failing = selectors.xapi_failing_statements()
    return render(
        request,
        "xapi/queue.html",
        {
            "counts": selectors.xapi_queue_counts(),
            "failing": failing[:FAILING_SHOWN],
            "failing_total": failing.count(),
            "lrs_url": settings.XAPI_LRS_URL,
            "batch_size": settings.XAPI_BATCH_SIZE,
        },
    )


@require_POST
@login_required
def retry_now(request: HttpRequest) -> HttpResponse:
    """Make failing statements (all, or the one named by `statement`) due now, and send at once."""
    _require_administrator(request)
    statement_id: uuid.UUID | None = None
    if request.POST.get("statement"):
        try:
            statement_id = uuid.UUID(request.POST["statement"])
        except ValueError as exc:
            raise Http404(_("That statement is not in the queue.")) from exc
    count = services.xapi_statements_retry_now(statement_id=statement_id)
    if statement_id is not None and not count:
        raise Http404(_("That statement is not failing, or not in the queue."))
    if count:
        # A worker sends them (in-process on the embedded default, before this page is shown again).
        transaction.on_commit(tasks.send_xapi_statements.delay)
    messages.info(
        request,
        ngettext(
            "%(count)d failing statement is being sent again.",
            "%(count)d failing statements are being sent again.",
            count,
        )
        % {"count": count},
    )
    return redirect("xapi:queue")
