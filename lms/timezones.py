"""Each city's time zone, in one place: both cities are UTC+8, but a person reads their own city's clock,
so we name it.

Times are stored in UTC; pages, feeds and emails show them in the reader's home
city (Singapore: Asia/Singapore, Chongqing: Asia/Shanghai) and label the city.
Administrators schedule on `SCHEDULING_TIME_ZONE`, the clock both cities share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from lms.accounts.models import Region

CITY_TIME_ZONES: dict[str, ZoneInfo] = {
    Region.SINGAPORE.value: ZoneInfo("Asia/Singapore"),
    Region.CHONGQING.value: ZoneInfo("Asia/Shanghai"),
}
# Where sessions are entered and listed for staff of both cities: their shared clock (UTC+8).
SCHEDULING_TIME_ZONE: ZoneInfo = CITY_TIME_ZONES[Region.SINGAPORE.value]


def city_time_zone(city: str) -> ZoneInfo:
    """The time zone of `city` (a Region value); Singapore's for anything unknown."""
    return CITY_TIME_ZONES.get(city, SCHEDULING_TIME_ZONE)


def city_label(city: str) -> str:
    """The city's name in the active language."""
    try:
        return str(Region(city).label)
    except ValueError:
        return str(Region.SINGAPORE.label)


def other_city(city: str) -> str:
    return Region.CHONGQING.value if city == Region.SINGAPORE.value else Region.SINGAPORE.value


@dataclass(frozen=True)
class CityTime:
    """A session's start and end on one city's clock."""

    city: str
    label: str
    starts: datetime
    ends: datetime

    @property
    def zone(self) -> str:
        """The city's IANA time zone name: a page's script compares the reader's own (the browser's) with it."""
        return city_time_zone(self.city).key


def city_time(city: str, starts_at: datetime, ends_at: datetime) -> CityTime:
    zone = city_time_zone(city)
    return CityTime(city=city, label=city_label(city), starts=starts_at.astimezone(zone), ends=ends_at.astimezone(zone))
