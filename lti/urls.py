"""LTI 1.3 routes: those platforms call (`urlpatterns`, outside the language prefix, mounted at /lti/), and the pages
an instructor reads (`page_urlpatterns`, mounted at /<lang>/lti/): their platform courses and the roster pull."""

from django.urls import path

from lti import views

app_name = "lti"

urlpatterns = [
    path("jwks/", views.jwks, name="jwks"),
    path("login/", views.oidc_login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("deep-link/<str:launch_id>/", views.deep_link, name="deep-link"),
]

page_urlpatterns = [
    path("courses/", views.platform_courses, name="courses"),
    path("courses/<int:context_id>/pull/", views.roster_pull, name="roster-pull"),
]
