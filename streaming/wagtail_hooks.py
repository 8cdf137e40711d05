"""The sessions' admin listing links each session to where its recordings are stored (streaming:session-storage)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.ui.menus import MenuItem

from classrooms.models import LiveSession


@hooks.register("register_snippet_listing_buttons")
def recordings_storage_button(snippet: Any, user: Any, next_url: str | None = None) -> Iterator[MenuItem]:
    """ "Recording storage" in a session's row (the page itself checks who may choose)."""
    if isinstance(snippet, LiveSession):
        yield MenuItem(
            _("Recording storage"),
            reverse("streaming:session-storage", args=[snippet.pk]),
            icon_name="folder-open-inverse",
            priority=90,
        )
