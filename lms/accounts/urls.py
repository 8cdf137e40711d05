from django.contrib.auth import views as auth_views
from django.urls import path

from lms.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/code/", views.sign_in_code, name="login-code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("welcome/", views.after_login, name="after-login"),
    path("settings/", views.account_settings, name="settings"),
    path("locked/", views.locked_sign_ins, name="locked-sign-ins"),
    path("settings/two-step/", views.two_step_start, name="two-step-start"),
    path("settings/two-step/confirm/", views.two_step_confirm, name="two-step-confirm"),
    path("settings/two-step/off/", views.two_step_off, name="two-step-off"),
    path("settings/two-step/qr.svg", views.two_step_qr, name="two-step-qr"),
    path("settings/data/export/", views.data_export_start, name="data-export-start"),
    path("settings/erase/", views.account_erase_self, name="erase-self"),
    path("data/exports/<int:export_id>/", views.data_export_detail, name="data-export"),
    path("data/exports/<int:export_id>/download/", views.data_export_download, name="data-export-download"),
    path("data/exports/file/<str:token>/", views.data_export_file, name="data-export-file"),
    path("users/<int:user_id>/data/", views.user_personal_data, name="user-data"),
    path("users/<int:user_id>/data/export/", views.user_data_export, name="user-data-export"),
    path("users/<int:user_id>/erase/", views.user_data_erase, name="user-data-erase"),
]
