"""Every HTTP route of the exam centre, mounted at /<lang>/exams/."""

from django.urls import path

from exams import attempt_views, console_views, marking_views, views

app_name = "exams"

urlpatterns = [
    path("", views.exam_index, name="index"),
    path("mine/", views.my_exams, name="mine"),
    path("sittings/", views.sitting_index, name="sittings"),
    path("sittings/<int:sitting_id>/", views.sitting_detail, name="sitting"),
    path("sittings/<int:sitting_id>/check-in/", views.sitting_check_in, name="check-in"),
    path("sittings/<int:sitting_id>/register/", views.sitting_register, name="register"),
    path("sittings/<int:sitting_id>/papers/", views.sitting_prepare_papers, name="prepare-papers"),
    path("sittings/<int:sitting_id>/console/", console_views.sitting_console, name="console"),
    path("sittings/<int:sitting_id>/console/action/", console_views.console_action, name="console-action"),
    path("sittings/<int:sitting_id>/console/incident/", console_views.console_incident, name="console-incident"),
    path("sittings/<int:sitting_id>/console/record.csv", console_views.console_record_csv, name="console-record"),
    path("sittings/<int:sitting_id>/console/record.pdf", console_views.console_record_pdf, name="console-record-pdf"),
    path("candidates/<int:candidate_id>/slip.pdf", views.admission_slip, name="slip"),
    path("candidates/<int:candidate_id>/exam/", attempt_views.exam_take, name="take"),
    path("candidates/<int:candidate_id>/exam/start/", attempt_views.exam_start, name="start"),
    path("papers/<int:paper_id>/state/", attempt_views.paper_state, name="paper-state"),
    path("papers/<int:paper_id>/answers/", attempt_views.paper_answers, name="paper-answers"),
    path("papers/<int:paper_id>/submit/", attempt_views.paper_submit, name="paper-submit"),
    # Marking and results (exams.marking_views).
    path("marking/", marking_views.marking_index, name="marking"),
    path("marking/answers/<int:answer_id>/", marking_views.mark_answer, name="mark-answer"),
    path("marking/<str:code>/", marking_views.marking_queue, name="marking-queue"),
    path("sittings/<int:sitting_id>/results/", marking_views.sitting_results, name="results"),
    path("sittings/<int:sitting_id>/results/release/", marking_views.sitting_results_release, name="results-release"),
    path("<str:code>/", views.exam_detail, name="exam"),
]
