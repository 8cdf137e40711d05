"""The site's HTTP routes: each app's own `urls.py`, mounted here; nothing else is routed anywhere else.

Pages a person reads are under the language prefix (/en/, /zh-hans/). Links that must never change or that
machines read (the calendar feed, certificate verification and its JSON, the health
checks and metrics) are not."""

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from django.views.static import serve
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from certificates import urls as certificate_urls
from classrooms import urls as classroom_urls
from lms.accounts.views import admin_sign_in
from lms.health import healthz, readyz
from lms.metrics import metrics_view
from lti import urls as lti_urls

# A database that is away answers 503 with a message saying so, not a bare 500 (lms/errors.py).
handler500 = "lms.errors.handler500"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # Wagtail's sign-in page leads to the site's: one throttle (django-axes) and one code prompt (TOTP) for both.
    path("admin/login/", admin_sign_in),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("calendar/", include((classroom_urls.feed_urlpatterns, "calendar"), namespace="calendar")),
    path("certificates/", include((certificate_urls.public_urlpatterns, "verify"), namespace="verify")),
    # LTI 1.3: partners' platforms call these (Corridor's key set, OIDC login initiation, the launch).
    path("lti/", include(lti_urls)),
]

if settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
    # The embedded default keeps uploads on local disk; S3 serves its own. Only the catalogue's image renditions
    # are public: documents, recordings, certificates and original uploads go through views that check who asks
    # (Wagtail's document view, with courses.wagtail_hooks; signed links from lms.files), never a guessable path.
    urlpatterns += [re_path(r"^media/(?P<path>images/[^/]+)$", serve, {"document_root": settings.MEDIA_ROOT})]

urlpatterns += i18n_patterns(
    path("accounts/", include("lms.accounts.urls")),
    path("learning/", include("courses.urls")),
    path("live/", include("classrooms.urls")),
    path("recordings/", include("streaming.urls")),
    path("certificates/", include("certificates.urls")),
    path("internships/", include("internships.urls")),
    path("xapi/", include("lms.xapi.urls")),
    path("exams/", include("exams.urls")),
    path("lti/", include((lti_urls.page_urlpatterns, "lti-pages"), namespace="lti-pages")),
    path("", include(wagtail_urls)),
    prefix_default_language=True,
)
