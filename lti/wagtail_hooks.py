"""Registered LTI platforms in the Wagtail admin (a snippet, as Corridor's other configuration): administrators add
a partner's Moodle, Canvas or Open edX with the values it shows when Corridor is added there."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from lti.models import Platform, ScoreDelivery


class PlatformViewSet(SnippetViewSet):
    model = Platform
    icon = "link"
    menu_label = _("LTI platforms")
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


class ScoreDeliveryViewSet(SnippetViewSet):
    """Grade passbacks, read-only: administrators see which scores a platform has not taken yet, and its answer."""

    model = ScoreDelivery
    icon = "tasks"
    menu_label = _("Grade passbacks")
    list_display = ["source", "link", "state", "attempts", "last_error", "created_at", "delivered_at"]
    list_filter = ["state"]
    inspect_view_enabled = True


class LtiViewSetGroup(SnippetViewSetGroup):
    menu_label = _("LTI")
    menu_icon = "link"
    menu_order = 280
    items = (PlatformViewSet, ScoreDeliveryViewSet)


register_snippet(LtiViewSetGroup)
