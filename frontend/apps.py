from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """Templates, static files and interface translations shared by every app."""

    name = "frontend"
    verbose_name = "Frontend"
