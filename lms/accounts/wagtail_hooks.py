from typing import Any

from django.http import HttpRequest
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.widgets import Button
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from lms.accounts.models import Cohort
from lms.accounts.roles import Role, user_roles


class CohortViewSet(SnippetViewSet):
    model = Cohort
    icon = "group"
    menu_label = "Cohorts"
    add_to_admin_menu = True
    list_display = ["name"]
    search_fields = ["name"]


register_snippet(CohortViewSet)


class LockedSignInsMenuItem(MenuItem):
    """The locked sign-ins page (lms.accounts.views.locked_sign_ins): administrators unlock accounts there."""

    def is_shown(self, request: HttpRequest) -> bool:
        return Role.ADMINISTRATOR in user_roles(request.user)


@hooks.register("register_admin_menu_item")
def register_locked_sign_ins_menu_item() -> MenuItem:
    return LockedSignInsMenuItem(
        _("Locked sign-ins"), reverse_lazy("accounts:locked-sign-ins"), icon_name="lock", order=270
    )


@hooks.register("register_user_listing_buttons")
def personal_data_button(user: Any, request_user: Any) -> list[Button]:
    """ "Export or erase" in each row's menu of the Wagtail user list: on to lms.accounts.views.user_personal_data."""
    if Role.ADMINISTRATOR not in user_roles(request_user):
        return []
    return [
        Button(
            _("Export or erase personal data"),
            reverse("accounts:user-data", kwargs={"user_id": user.pk}),
            icon_name="download",
            priority=60,
        )
    ]
