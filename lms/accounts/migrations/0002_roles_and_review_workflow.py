"""Create the four role groups, their permissions, and the review-before-publishing workflow.

Permissions normally appear in post_migrate, after this runs on a fresh
database, so they are created here first.
"""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

TRAINEES, INSTRUCTORS, OPERATORS, ADMINISTRATORS = "Trainees", "Instructors", "Operators", "Administrators"

# (app_label, codename) pairs per role, on top of page permissions below.
MODEL_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    INSTRUCTORS: [
        ("wagtailadmin", "access_admin"),
        ("wagtailimages", "add_image"),
        ("wagtailimages", "change_image"),
        ("wagtailimages", "choose_image"),
        ("wagtaildocs", "add_document"),
        ("wagtaildocs", "change_document"),
        ("wagtaildocs", "choose_document"),
        ("simple_translation", "submit_translation"),
    ],
    ADMINISTRATORS: [
        ("wagtailadmin", "access_admin"),
        ("wagtailimages", "add_image"),
        ("wagtailimages", "change_image"),
        ("wagtailimages", "delete_image"),
        ("wagtailimages", "choose_image"),
        ("wagtaildocs", "add_document"),
        ("wagtaildocs", "change_document"),
        ("wagtaildocs", "delete_document"),
        ("wagtaildocs", "choose_document"),
        ("accounts", "add_user"),
        ("accounts", "change_user"),
        ("accounts", "view_user"),
        ("accounts", "add_cohort"),
        ("accounts", "change_cohort"),
        ("accounts", "delete_cohort"),
        ("accounts", "view_cohort"),
        ("wagtailcore", "add_locale"),
        ("wagtailcore", "change_locale"),
        ("simple_translation", "submit_translation"),
    ],
}
# Instructors write and submit; only administrators publish.
PAGE_PERMISSIONS: dict[str, list[str]] = {
    INSTRUCTORS: ["add_page", "change_page"],
    ADMINISTRATORS: ["add_page", "change_page", "publish_page", "bulk_delete_page", "lock_page", "unlock_page"],
}


def create_roles(apps: Any, schema_editor: Any) -> None:
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Page = apps.get_model("wagtailcore", "Page")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    GroupApprovalTask = apps.get_model("wagtailcore", "GroupApprovalTask")
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    WorkflowPage = apps.get_model("wagtailcore", "WorkflowPage")

    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (TRAINEES, INSTRUCTORS, OPERATORS, ADMINISTRATORS)}
    for name, perms in MODEL_PERMISSIONS.items():
        for app_label, codename in perms:
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                groups[name].permissions.add(permission)

    root = Page.objects.filter(depth=1).first()
    if root is None:
        return
    page_ct = ContentType.objects.get(app_label="wagtailcore", model="page")
    for name, codenames in PAGE_PERMISSIONS.items():
        for codename in codenames:
            permission = Permission.objects.get(content_type=page_ct, codename=codename)
            GroupPagePermission.objects.get_or_create(group=groups[name], page=root, permission=permission)

    task_ct, _ = ContentType.objects.get_or_create(app_label="wagtailcore", model="groupapprovaltask")
    task = GroupApprovalTask.objects.filter(name="Administrator review").first()
    if task is None:
        task = GroupApprovalTask.objects.create(name="Administrator review", content_type=task_ct, active=True)
    task.groups.set([groups[ADMINISTRATORS]])
    workflow, created = Workflow.objects.get_or_create(name="Course review", defaults={"active": True})
    if created:
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    # Every page under the root goes through administrator review before it is published.
    WorkflowPage.objects.filter(page=root).delete()
    WorkflowPage.objects.create(workflow=workflow, page=root)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("wagtailcore", "0098_apitoken"),
        ("wagtailadmin", "0006_formstate"),
        ("wagtaildocs", "0014_alter_document_file_size"),
        ("wagtailimages", "0027_image_description"),
        ("simple_translation", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
