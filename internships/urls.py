"""Every HTTP route of internships, mounted at /<lang>/internships/."""

from django.urls import path

from internships import views

app_name = "internships"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("placements/<int:placement_id>/log/", views.log_week, name="log-week"),
    path("logs/<int:log_id>/files/", views.attach_file, name="attach-file"),
    path("files/<int:file_id>/", views.log_file, name="file"),
    path("files/signed/<str:token>/", views.signed_file, name="signed-file"),
    path("tasks/<int:task_id>/status/", views.task_status, name="task-status"),
    path("supervise/", views.dashboard, name="dashboard"),
    path("supervise/placements/<int:placement_id>/", views.placement_detail, name="placement"),
    path("supervise/placements/<int:placement_id>/tasks/", views.task_create, name="task-create"),
    path("supervise/approve/", views.approve, name="approve"),
    path("supervise/placements/<int:placement_id>/check-ins/", views.check_in_record, name="check-in"),
    path(
        "supervise/placements/<int:placement_id>/check-ins/schedule/",
        views.check_in_schedule,
        name="check-in-schedule",
    ),
    path("supervise/check-ins/<int:live_id>/notes/", views.check_in_notes, name="check-in-notes"),
    path("supervise/placements/<int:placement_id>/evaluations/<str:kind>/", views.evaluate, name="evaluate"),
    path("placements/<int:placement_id>/self-evaluation/", views.self_evaluate, name="self-evaluate"),
    path("coordinate/", views.coordinate, name="coordinate"),
    path("coordinate/companies/", views.company_create, name="company-create"),
    path("coordinate/internships/", views.internship_create, name="internship-create"),
    path("coordinate/placements/", views.placement_create, name="placement-create"),
    path("sign-in/", views.sign_in_request, name="sign-in-request"),
    path("sign-in/<str:uidb64>/<str:token>/", views.sign_in_link, name="sign-in-link"),
]
