"""Where personal files are kept: each region (Singapore, Chongqing) has its own storage, so a person's
certificates and a session's recordings stay in one jurisdiction (PDPA Singapore, PIPL China).

On S3 one bucket per region (AWS_STORAGE_BUCKET_NAME_SINGAPORE, ..._CHONGQING; each defaults to
AWS_STORAGE_BUCKET_NAME, so a one-bucket deployment keeps working); on the embedded default one folder per
region under MEDIA_ROOT (media/singapore/, media/chongqing/). Each stored row records the region its bytes
went to (`storage_region`), and every reader goes back there: changing a person's home region later does not
lose their files. Rows from before regions have an empty `storage_region`: the default storage.

Depends on Django only, never on an app.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage, storages
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

# The storage aliases in settings.STORAGES, one per region (lms.accounts.models.Region's values).
REGIONS: dict[str, str] = {"singapore": "Singapore", "chongqing": "Chongqing"}
REGION_LABELS = {"singapore": _("Singapore"), "chongqing": _("Chongqing")}


class UnknownRegion(ValueError):
    def __init__(self, region: str) -> None:
        super().__init__(f"unknown storage region {region!r}")


def storage_for_region(region: str | None) -> Storage:
    """The storage holding a region's files; empty `region` (a row stored before regions): the default storage."""
    if not region:
        return default_storage
    if region not in REGIONS:
        raise UnknownRegion(region)
    return storages[region]


def region_label(region: str | None) -> str:
    """The region's name for people ("Singapore"); the default storage's for rows stored before regions."""
    if not region:
        return str(_("the default storage"))
    return str(REGION_LABELS.get(region, region))


@deconstructible(path="lms.regions.RegionFolderStorage")
class RegionFolderStorage(FileSystemStorage):
    """A region's folder under MEDIA_ROOT (the embedded default's stand-in for the region's bucket); follows
    MEDIA_ROOT and MEDIA_URL when they change, as FileSystemStorage does."""

    def __init__(self, region: str, **kwargs: Any) -> None:
        self.region = region
        super().__init__(**kwargs)

    @cached_property
    def base_location(self) -> str:
        return os.path.join(settings.MEDIA_ROOT, self.region)

    @cached_property
    def base_url(self) -> str:
        return f"{settings.MEDIA_URL}{self.region}/"
