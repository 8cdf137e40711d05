"""Registered LTI platforms in the Wagtail admin (a snippet, as Corridor's other configuration): administrators add
a partner's Moodle, Canvas or Open edX with the values it shows when Corridor is added there."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from lti.models import Platform


class PlatformViewSet(SnippetViewSet):
    model = Platform
    icon = "link"
    menu_label = _("LTI platforms")
    menu_order = 280
    add_to_admin_menu = True
    list_display = ["name", "issuer", "client_id", "created_at"]
    search_fields = ["name", "issuer", "client_id"]
    panels = [
        FieldPanel("name"),
        FieldRowPanel([FieldPanel("issuer"), FieldPanel("client_id")]),
        FieldPanel("deployment_ids"),
        MultiFieldPanel(
            [FieldPanel("auth_login_url"), FieldPanel("auth_token_url")], heading=_("The platform's endpoints")
        ),
        MultiFieldPanel([FieldPanel("key_set_url"), FieldPanel("key_set")], heading=_("The platform's keys")),
    ]


register_snippet(PlatformViewSet)
