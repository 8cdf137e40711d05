"""The device registry: model, network address, VISCA port and preset names per device, and a review state for
names a room agent reports that nobody registered. Administrators get the device permissions (the admin's
"Devices" list); existing devices count as registered.
"""

from typing import Any

from django.contrib.auth.management import create_permissions
import django.core.validators
from django.db import migrations, models


DEVICE_PERMISSIONS = ["add_device", "change_device", "delete_device", "view_device"]


def grant(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("classrooms")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Administrators")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="classrooms", codename__in=DEVICE_PERMISSIONS)
    )


def revoke(apps: Any, schema_editor: Any) -> None:
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Administrators").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="classrooms", codename__in=DEVICE_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("classrooms", "0007_agents_follow_sessions"),
    ]

    operations = [
        migrations.AddField(
            model_name="device",
            name="address",
            field=models.CharField(
                blank=True,
                help_text="Host name or IP address on the room's network.",
                max_length=255,
                verbose_name="network address",
            ),
        ),
        migrations.AddField(
            model_name="device",
            name="model",
            field=models.CharField(blank=True, max_length=120, verbose_name="model"),
        ),
        migrations.AddField(
            model_name="device",
            name="presets",
            field=models.JSONField(blank=True, default=dict, verbose_name="preset names"),
        ),
        migrations.AddField(
            model_name="device",
            name="review",
            field=models.CharField(
                choices=[("accepted", "Registered"), ("pending", "Unknown, needs review"), ("dismissed", "Dismissed")],
                default="accepted",
                max_length=16,
                verbose_name="review",
            ),
        ),
        migrations.AddField(
            model_name="device",
            name="visca_port",
            field=models.PositiveIntegerField(
                blank=True,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(65535),
                ],
                verbose_name="VISCA port",
            ),
        ),
        migrations.RunPython(grant, revoke),
    ]
