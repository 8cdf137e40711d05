"""Certificate URLs: the pages under the language prefix, and the public ones (verification, key, status) without."""

from typing import Any

from django.urls import include, path

from certificates import views

app_name = "certificates"

urlpatterns: list[Any] = views.i18n_urlpatterns

public_urlpatterns: list[Any] = [path("", include((views.public_urlpatterns, "verify"), namespace="verify"))]
