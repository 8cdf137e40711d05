from django.urls import path

from lms.xapi import views

app_name = "xapi"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/retry/", views.retry_now, name="retry"),
]
