from django.http import HttpRequest
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from lms.accounts.roles import Role, user_roles


class XapiQueueMenuItem(MenuItem):
    """The xAPI statements page (lms.xapi.views.queue), beside "Locked sign-ins": administrators only."""

    def is_shown(self, request: HttpRequest) -> bool:
        return Role.ADMINISTRATOR in user_roles(request.user)


@hooks.register("register_admin_menu_item")
def register_xapi_queue_menu_item() -> MenuItem:
    return XapiQueueMenuItem(_("xAPI statements"), reverse_lazy("xapi:queue"), icon_name="upload", order=275)
