"""Every HTTP route of the exam centre, mounted at /<lang>/exams/."""

from django.urls import path

from exams import attempt_views, views

app_name = "exams"

urlpatterns = [
    path("", views.exam_index, name="index"),
    path("mine/", views.my_exams, name="mine"),
    path("sittings/", views.sitting_index, name="sittings"),
    path("sittings/<int:sitting_id>/", views.sitting_detail, name="sitting"),
    path("sittings/<int:sitting_id>/check-in/", views.sitting_check_in, name="check-in"),
    path("sittings/<int:sitting_id>/register/", views.sitting_register, name="register"),
    path("sittings/<int:sitting_id>/papers/", views.sitting_prepare_papers, name="prepare-papers"),
    path("candidates/<int:candidate_id>/slip.pdf", views.admission_slip, name="slip"),
    path("candidates/<int:candidate_id>/exam/", attempt_views.exam_take, name="take"),
    path("candidates/<int:candidate_id>/exam/start/", attempt_views.exam_start, name="start"),
    path("papers/<int:paper_id>/state/", attempt_views.paper_state, name="paper-state"),
    path("papers/<int:paper_id>/answers/", attempt_views.paper_answers, name="paper-answers"),
    path("papers/<int:paper_id>/submit/", attempt_views.paper_submit, name="paper-submit"),
    path("<str:code>/", views.exam_detail, name="exam"),
]
