"""The admin's own additions: the script that runs Wagtail's widget initialisers without inline script
(lms/admin_scripts.py)."""

from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from wagtail import hooks


@hooks.register("insert_global_admin_js")
def admin_widget_initialisers() -> SafeString:
    return format_html('<script src="{}"></script>', static("corridor/admin-init.js"))
