from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExamsConfig(AppConfig):
    """The Chongqing exam centre: exams, question banks, sittings, candidates, invigilation, marking."""

    name = "exams"
    label = "exams"
    verbose_name = _("Exam centre")
