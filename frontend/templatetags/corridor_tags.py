from typing import Any

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils import translation
from wagtail.models import Page

register = template.Library()


@register.inclusion_tag("frontend/language_switcher.html", takes_context=True)
def language_switcher(context: dict[str, Any]) -> dict[str, Any]:
    """Links to this page in each language: the page's own translation where it has one."""
    request = context["request"]
    page: Page | None = context.get("page") if isinstance(context.get("page"), Page) else None
    translations: dict[str, Page] = {}
    if page is not None:
        for item in page.get_translations(inclusive=True).live().select_related("locale"):
            translations[item.locale.language_code] = item
    current = translation.get_language()
    links = []
    for code, name in settings.LANGUAGES:
        if page is not None:
            target = translations.get(code)
            url = target.get_url(request) if target is not None else f"/{code}/"
        else:
            url = translate_url(request.get_full_path(), code)
        with translation.override(code):
            label = translation.gettext(str(name))
        links.append({"code": code, "label": label, "url": url, "active": code == current})
    return {"links": links}
