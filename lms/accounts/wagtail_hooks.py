from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from lms.accounts.models import Cohort


class CohortViewSet(SnippetViewSet):
    model = Cohort
    icon = "group"
    menu_label = "Cohorts"
    add_to_admin_menu = True
    list_display = ["name"]
    search_fields = ["name"]


register_snippet(CohortViewSet)
