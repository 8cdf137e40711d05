from django.urls import path

from courses import views

app_name = "courses"

urlpatterns = [
    path("", views.my_learning, name="my-learning"),
    path("courses/<int:page_id>/enrol/", views.course_enrol, name="enrol"),
    path("lessons/<int:page_id>/complete/", views.lesson_complete, name="lesson-complete"),
    path("lessons/<int:page_id>/quizzes/<str:block_id>/", views.quiz_submit, name="quiz-submit"),
]
