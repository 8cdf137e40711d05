"""The invigilator and company-supervisor roles (issue 16): two more groups, with no model permission of their own.

What each may do is decided by the exams and internships apps per object (their exam rooms, their interns).
"""

from typing import Any

from django.db import migrations

NEW_ROLES = ("Invigilators", "Supervisors")


def create_groups(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    for name in NEW_ROLES:
        Group.objects.get_or_create(name=name)


def delete_groups(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=NEW_ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_data_export")]

    operations = [migrations.RunPython(create_groups, delete_groups)]
