"""The Wagtail admin under a Content Security Policy without inline script.

Wagtail 8 still writes a few widget initialisers as inline scripts after the widget's HTML: the date and time
pickers (`initDateTimeChooser("id_starts_at", {...});`), the choosers (`new PageChooser("id_course", {...});`) and
the inline panels. The policy blocks them, so the pickers and choosers would not work. This middleware turns each
one that is exactly such a call (a known name, then JSON arguments, nothing else) into data,
`<script type="application/json" data-admin-init="initDateTimeChooser">["id_starts_at", {...}]</script>`, which a
static file (frontend/static/corridor/admin-init.js, added to every admin page by lms/wagtail_hooks.py) runs, for the
page as loaded and for HTML the admin inserts later (dialogs, modals, new inline forms). Any other inline script is
left as it is, and so stays blocked: the policy needs no nonce and no 'unsafe-inline', the admin included.
"""

import json
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

ADMIN_PREFIX = "/admin/"
FUNCTIONS = {"initDateChooser", "initTimeChooser", "initDateTimeChooser"}
CONSTRUCTOR = re.compile(r"[A-Z][A-Za-z]*Chooser|InlinePanel|MultipleChooserPanel")
INLINE_SCRIPT = re.compile(r"<script>(?P<body>.*?)</script>", re.DOTALL)
CALL = re.compile(r"\s*(?P<new>new\s+)?(?P<name>[A-Za-z]+)\((?P<args>.*)\);?\s*", re.DOTALL)
# Wagtail's inline panels: (function() { var panel = new InlinePanel(JSON.parse("...")); })();
PANEL = re.compile(
    r"\s*\(function\(\)\s*\{\s*var panel = new (?P<name>InlinePanel|MultipleChooserPanel)"
    r"\(JSON\.parse\((?P<options>\"(?:[^\"\\]|\\.)*\")\)\);\s*\}\)\(\);\s*",
    re.DOTALL,
)


def _as_data(name: str, args: list[Any]) -> str:
    payload = json.dumps(args).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" data-admin-init="{escape(name)}">{payload}</script>'


def _initialiser(body: str) -> tuple[str, list[Any]] | None:
    """The name and arguments of a Wagtail widget initialiser, or None for anything else."""
    panel = PANEL.fullmatch(body)
    if panel:
        try:
            options = json.loads(json.loads(panel["options"]))
        except ValueError:
            return None
        return f"new {panel['name']}", [options]
    call = CALL.fullmatch(body)
    if not call:
        return None
    name = call["name"]
    if call["new"] and not CONSTRUCTOR.fullmatch(name):
        return None
    if not call["new"] and name not in FUNCTIONS:
        return None
    try:
        args = json.loads(f"[{call['args']}]")
    except ValueError:
        return None
    if not args or not isinstance(args[0], str) or not all(isinstance(arg, dict) for arg in args[1:]):
        return None
    return (f"new {name}" if call["new"] else name), args


def rewrite_inline_initialisers(html: str) -> str:
    def replace(match: re.Match[str]) -> str:
        found = _initialiser(match["body"])
        return _as_data(*found) if found else match.group(0)

    return INLINE_SCRIPT.sub(replace, html) if "<script>" in html else html


def _rewrite_json(value: Any) -> Any:
    """Modal and chooser responses carry HTML inside JSON."""
    if isinstance(value, str):
        return rewrite_inline_initialisers(value)
    if isinstance(value, list):
        return [_rewrite_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _rewrite_json(item) for key, item in value.items()}
    return value


class AdminInlineScriptsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(ADMIN_PREFIX) or getattr(response, "streaming", False):
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html"):
            charset = response.charset or "utf-8"
            response.content = rewrite_inline_initialisers(response.content.decode(charset)).encode(charset)
        elif content_type.startswith("application/json") and b"<script>" in response.content:
            data = json.loads(response.content)
            response.content = json.dumps(_rewrite_json(data)).encode("utf-8")
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response
