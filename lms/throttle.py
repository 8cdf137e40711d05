"""Per-address rate limits for public endpoints (certificate verification): a fixed window counted in the cache.

On the embedded default the cache is per process; with REDIS_URL every app process counts in the same Redis."""

import functools
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

View = TypeVar("View", bound=Callable[..., HttpResponse])


def client_address(request: HttpRequest) -> str:
    """The client's address (behind the proxy, uvicorn --proxy-headers has already put it in REMOTE_ADDR)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def address_spend(*, scope: str, address: str, limit: int, window: int) -> int:
    """Count one request of `address` in `scope`; 0 when allowed, else the seconds until the window ends."""
    now = time.time()
    slot = int(now // window)
    key = f"throttle:{scope}:{address}:{slot}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count <= limit:
        return 0
    return max(1, math.ceil((slot + 1) * window - now))


def throttled_per_address(scope: str, *, limit_setting: str, window: int = 60) -> Callable[[View], View]:
    """Refuse an address's requests beyond `settings.<limit_setting>` per `window` seconds with 429: a page in the
    reader's language, or JSON for JSON endpoints, and Retry-After."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limit = int(getattr(settings, limit_setting))
            wait = address_spend(scope=scope, address=client_address(request), limit=limit, window=window)
            if not wait:
                return view(request, *args, **kwargs)
            message = _("Too many requests from your address. Try again in %(seconds)s seconds.") % {"seconds": wait}
            response: HttpResponse
            if request.path.endswith(".json"):
                response = JsonResponse(
                    {"status": "throttled", "error": {"code": "throttled", "message": message}}, status=429
                )
            else:
                response = render(
                    request,
                    "corridor/error.html",
                    {"error_code": "throttled", "error_message": message},
                    status=429,
                )
            response["Retry-After"] = str(wait)
            return response

        return wrapped  # type: ignore[return-value]

    return decorate
