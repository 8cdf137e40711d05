"""HTTPS, cookies and the Content Security Policy: safe by default outside DEBUG, each part set from the environment.

With DEBUG off (production) the site redirects to HTTPS, sends HSTS and marks its cookies Secure, so
`manage.py check --deploy --fail-level WARNING` is clean; with DEBUG on (`make run`) plain http://127.0.0.1 works.
Behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER names the header the proxy sets (X-Forwarded-Proto: https).

The Content Security Policy (django-csp) applies to every page, the Wagtail admin included: scripts and styles come
from the site's own static files only (no inline script, no style attribute), sockets to the site itself.
"""

from urllib.parse import urlsplit

from csp.constants import NONE, SELF

from .base import DEBUG
from .env import env

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and probes ask over plain HTTP inside the cluster: the health checks answer there too.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_header:
    # Only behind a proxy that sets (and overwrites) this header: a client could send it otherwise.
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Files on S3 (recordings, lesson videos and documents, images) are fetched by signed URL from the bucket's host.
_storage_sources: list[str] = []
if env.str("AWS_STORAGE_BUCKET_NAME", default=""):
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="")
    _storage_sources = [_origin(_endpoint)] if _endpoint else ["https://*.amazonaws.com"]
    # A region's own endpoint (lms/settings/storage.py), e.g. China's amazonaws.com.cn.
    for _region_endpoint in (
        env.str("AWS_S3_ENDPOINT_URL_SINGAPORE", default=""),
        env.str("AWS_S3_ENDPOINT_URL_CHONGQING", default=""),
    ):
        if _region_endpoint and _origin(_region_endpoint) not in _storage_sources:
            _storage_sources.append(_origin(_region_endpoint))
_extra_media = env.list("CSP_MEDIA_SOURCES", default=[])

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, "'report-sample'"],
        "style-src": [SELF, "'report-sample'"],
        # data: for the admin's and the browser's own small images; blob: for pictures made in the page.
        "img-src": [SELF, "data:", "blob:", *_storage_sources, *_extra_media],
        # The live page plays camera and microphone streams (blob:, MediaStream) and recordings.
        "media-src": [SELF, "data:", "blob:", *_storage_sources, *_extra_media],
        # 'self' covers the page's own websocket (ws:/wss: to the same host) in CSP level 3.
        "connect-src": [SELF, *env.list("CSP_CONNECT_SOURCES", default=[])],
        "font-src": [SELF, "data:"],
        # Embedded videos in lessons (Wagtail embeds) and the admin's page preview.
        "frame-src": [
            SELF,
            *env.list(
                "CSP_FRAME_SOURCES",
                default=["https://www.youtube.com", "https://www.youtube-nocookie.com", "https://player.vimeo.com"],
            ),
        ],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        # The admin previews a page in a frame of its own origin; no other site may frame Corridor.
        "frame-ancestors": [SELF],
    },
}
