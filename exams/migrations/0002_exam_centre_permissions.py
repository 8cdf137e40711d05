"""Administrators manage the exam centre in the admin (exams, question banks, paper rules, exam rooms, sittings);
invigilators run their sittings from the site's pages, not the admin.

Permissions normally appear in post_migrate, after this runs on a fresh database, so they are created here first
(as classrooms 0004 does)."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMINISTRATORS = "Administrators"
MANAGED = ["exam", "question", "paperrule", "examroom", "sitting"]

PERMISSIONS: dict[str, list[str]] = {
    ADMINISTRATORS: [f"{action}_{model}" for model in MANAGED for action in ("add", "change", "delete", "view")],
}


def _permissions(apps: Any, codenames: list[str]) -> Any:
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label="exams", codename__in=codenames)


def grant(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("exams")
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
        ("exams", "0001_exam_centre"),
        ("accounts", "0007_invigilator_and_supervisor_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
