"""Instructors schedule live sessions in the admin; administrators also manage rooms.

Permissions normally appear in post_migrate, after this runs on a fresh
database, so they are created here first (as accounts 0002 does).
"""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

INSTRUCTORS, ADMINISTRATORS = "Instructors", "Administrators"

# codenames of classrooms' permissions, per role
PERMISSIONS: dict[str, list[str]] = {
    INSTRUCTORS: ["add_livesession", "change_livesession", "view_livesession", "view_room"],
    ADMINISTRATORS: [
        "add_livesession",
        "change_livesession",
        "delete_livesession",
        "view_livesession",
        "add_room",
        "change_room",
        "delete_room",
        "view_room",
    ],
}


def _permissions(apps: Any, codenames: list[str]) -> Any:
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label="classrooms", codename__in=codenames)


def grant(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("classrooms")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    for name, codenames in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*_permissions(apps, codenames))


def revoke(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    for name, codenames in PERMISSIONS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*_permissions(apps, codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("classrooms", "0002_session_reminders"),
        ("classrooms", "0003_attendance_sources_and_checkins"),
        ("accounts", "0002_roles_and_review_workflow"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
