"""The live page's Content Security Policy in front of SFU nodes: the page may time each city's node.

With SFU nodes in both cities (`SFU_MODE=nodes`), a live page set to "automatic" fetches each city's probe URL
(`SFU_NODE_PROBE_URL`, another origin) to find the nearer; the policy's connect-src allows the site itself only, so
the live page's response adds the origins of the probes the page will be handed (streaming.media_hubs.media_probes).
"""

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from streaming.media_hubs import media_probes

LIVE_PAGE = "classrooms:live-session"
logger = logging.getLogger(__name__)


def probe_origins() -> list[str]:
    origins = set()
    for url in async_to_sync(media_probes)().values():
        parts = urlsplit(url)
        if parts.scheme in {"http", "https"} and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


class MediaProbeSourcesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        if settings.SFU_MODE != "nodes" or match is None or match.view_name != LIVE_PAGE:
            return response
        try:
            origins = probe_origins()
        except Exception:  # the page still works: its media goes through the server's own city
            logger.warning("could not read the SFU nodes' probe URLs for the live page's policy", exc_info=True)
            return response
        if origins:
            # django-csp's per-response update (what its @csp_update decorator sets), read by CSPMiddleware.
            update = dict(getattr(response, "_csp_update", None) or {})
            update["connect-src"] = [*update.get("connect-src", []), *origins]
            response._csp_update = update  # type: ignore[attr-defined]
        return response
