"""The site's HTTP routes: each app's own `urls.py`, mounted here; nothing else is routed anywhere else.

Pages a person reads are under the language prefix (/en/, /zh-hans/). Links that must never change or that
machines read (the calendar feed, certificate verification and its JSON, the health check) are not."""

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from certificates import urls as certificate_urls
from classrooms import urls as classroom_urls


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("calendar/", include((classroom_urls.feed_urlpatterns, "calendar"), namespace="calendar")),
    path("certificates/", include((certificate_urls.public_urlpatterns, "verify"), namespace="verify")),
]

if settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
    # The embedded default keeps uploads on local disk; S3 serves its own.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]

urlpatterns += i18n_patterns(
    path("accounts/", include("lms.accounts.urls")),
    path("learning/", include("courses.urls")),
    path("live/", include("classrooms.urls")),
    path("recordings/", include("streaming.urls")),
    path("certificates/", include("certificates.urls")),
    path("", include(wagtail_urls)),
    prefix_default_language=True,
)
