from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LtiConfig(AppConfig):
    """LTI 1.3: Corridor as a tool that partners' platforms (Moodle, Canvas, Open edX) launch."""

    name = "lti"
    label = "lti"
    verbose_name = _("LTI platforms")
    default_auto_field = "django.db.models.BigAutoField"
