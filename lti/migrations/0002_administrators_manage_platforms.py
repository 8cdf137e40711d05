"""Administrators register LTI platforms (the admin's "LTI platforms" list): they get the platform permissions."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

PLATFORM_PERMISSIONS = ["add_platform", "change_platform", "delete_platform", "view_platform"]


def grant(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("lti")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Administrators")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="lti", codename__in=PLATFORM_PERMISSIONS))


def revoke(apps: Any, schema_editor: Any) -> None:
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Administrators").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="lti", codename__in=PLATFORM_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("lti", "0001_platforms_keys_accounts"),
        ("accounts", "0002_roles_and_review_workflow"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
