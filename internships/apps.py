from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InternshipsConfig(AppConfig):
    """Remote internships: host companies, placements, supervisors, logbooks, evaluations."""

    name = "internships"
    label = "internships"
    verbose_name = _("Internships")
