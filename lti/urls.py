"""LTI 1.3 routes, outside the language prefix: platforms call them, not people."""

from django.urls import path

from lti import views

app_name = "lti"

urlpatterns = [
    path("jwks/", views.jwks, name="jwks"),
    path("login/", views.oidc_login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("deep-link/<str:launch_id>/", views.deep_link, name="deep-link"),
]
