from typing import Any

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils import translation
from django.utils.html import json_script
from django.utils.safestring import SafeString
from wagtail.models import Page

from lms.close_codes import REFUSAL_FIRST, REFUSAL_LAST, close_codes_table

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


@register.simple_tag
def js_strings(*sets: dict[str, Any], **strings: Any) -> SafeString:
    """The one way a page hands its scripts their words, already translated: a JSON element that
    `corridor/i18n.js` reads (`corridor.t("key")`, `corridor.t("media.connecting")`, plurals as {one, other}).

    Pass dicts of gettext'd words (a view's, say `live_strings()`), or words by name from the template:
    `{% js_strings copied=_("Copied") %}`. One call per page.
    """
    merged: dict[str, Any] = {}
    for words in sets:
        merged.update(words)
    merged.update(strings)
    return json_script(merged, "corridor-strings")


@register.simple_tag
def close_codes() -> SafeString:
    """The server's websocket close codes (lms/close_codes.py), for `corridor/close-codes.js`."""
    return json_script({"codes": close_codes_table(), "refusal": [REFUSAL_FIRST, REFUSAL_LAST]}, "corridor-close-codes")
