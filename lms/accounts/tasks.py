"""Long work on accounts, run by Celery: a person's data export, and the sweep that deletes expired ones."""

from __future__ import annotations

from celery import shared_task

from lms.accounts.services import data_export_build, data_exports_expire


@shared_task(name="lms.accounts.tasks.build_data_export")
def build_data_export(export_id: int) -> str:
    """Build one person's archive (lms.accounts.services.data_export_build); its row says how far it got."""
    return data_export_build(export_id=export_id).state


@shared_task(name="lms.accounts.tasks.expire_data_exports")
def expire_data_exports() -> int:
    """Delete the archives kept longer than DATA_EXPORT_KEEP_DAYS."""
    return data_exports_expire()
