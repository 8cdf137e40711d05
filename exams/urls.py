"""Every HTTP route of the exam centre, mounted at /<lang>/exams/."""

from django.urls import path

from exams import marking_views, views

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
    # Marking and results (exams.marking_views).
    path("marking/", marking_views.marking_index, name="marking"),
    path("marking/answers/<int:answer_id>/", marking_views.mark_answer, name="mark-answer"),
    path("marking/<str:code>/", marking_views.marking_queue, name="marking-queue"),
    path("sittings/<int:sitting_id>/results/", marking_views.sitting_results, name="results"),
    path("sittings/<int:sitting_id>/results/release/", marking_views.sitting_results_release, name="results-release"),
    path("<str:code>/", views.exam_detail, name="exam"),
]
