"""Cron slots in a time zone (croniter + zoneinfo), and the catch-up policy for missed slots.

Slots are computed in the trigger's zone, so ``0 2 * * *`` in ``Europe/Paris`` is 02:00 local time
every day: the UTC instant moves by an hour across a DST change. A local time that does not exist
(spring forward) fires at the first valid time after it; a wall time repeated right after itself
(a daily slot in the repeated hour of a fall-back night) fires once, while a schedule of every 30
minutes keeps firing through the repeated hour, since those are distinct instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from shipyard.errors import InvalidInput


class CatchUp(StrEnum):
    """Which of the slots missed while no scheduler ran to fire."""

    LATEST = "latest"
    ALL = "all"
    NONE = "none"


_SECOND = timedelta(seconds=1)

#: ``all`` replays at most this many missed slots per tick (the rest come on later ticks).
MAX_SLOTS_PER_TICK = 1000


def check_cron(expression: object) -> str:
    if not isinstance(expression, str) or not expression.strip() or len(expression) > 200:
        raise InvalidInput(f"cron must be a cron expression, got {expression!r}", field="cron")
    return _check_cron(expression)


@lru_cache(maxsize=4096)  # a scheduler reads the same few expressions back on every tick
def _check_cron(expression: str) -> str:
    try:
        valid = croniter.is_valid(expression)
    except (CroniterError, ValueError):
        valid = False
    if not valid or len(expression.split()) not in (5, 6):
        raise InvalidInput(
            f"invalid cron expression {expression!r}: expected 5 fields 'minute hour day month weekday' "
            "(or 6 with seconds)",
            field="cron",
        )
    return expression


def zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 100:
        raise InvalidInput(f"timezone must be an IANA time zone name, got {name!r}", field="timezone")
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r}: expected an IANA name such as 'UTC' or 'Europe/Paris'",
            field="timezone",
        ) from None


def slots_after(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The slots strictly after ``after``, in order, as aware datetimes in ``timezone``."""
    local = after.astimezone(zone(timezone))
    it = croniter(cron, local)
    previous: datetime | None = local.replace(tzinfo=None, fold=0)
    while True:
        try:
            slot: datetime = it.get_next(datetime)
        except CroniterBadDateError:
            return
        wall = slot.replace(tzinfo=None, fold=0)
        if wall != previous:  # the repeated hour of a fall-back night yields a wall time twice
            yield slot
        previous = wall


def next_slot(cron: str, timezone: str, after: datetime) -> datetime | None:
    return next(slots_after(cron, timezone, after), None)


def slots_between(cron: str, timezone: str, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Slots with ``start <= slot < end`` (at most ``limit``; InvalidInput past it)."""
    found: list[datetime] = []
    begin = start.astimezone(UTC)
    for slot in slots_after(cron, timezone, begin.replace(microsecond=0) - _SECOND):
        if slot >= end:
            break
        if slot >= begin:
            if len(found) >= limit:
                raise InvalidInput(
                    f"the range holds more than {limit} slots; split it into smaller ranges", field="end"
                )
            found.append(slot)
    return found


def due_slots(
    cron: str, timezone: str, after: datetime, now: datetime, catchup: CatchUp, grace_s: float
) -> tuple[list[datetime], datetime | None]:
    """The slots to fire among those in ``(after, now]``, and the last slot seen (the new cursor).

    ``all`` fires every one (at most :data:`MAX_SLOTS_PER_TICK`, the cursor then stops at the last
    fired); ``latest`` only the most recent; ``none`` the most recent only if it is at most
    ``grace_s`` old (a scheduler that was down does not fire slots it missed).
    """
    if catchup is CatchUp.ALL:
        seen: list[datetime] = []
        for slot in slots_after(cron, timezone, after):
            if slot > now or len(seen) >= MAX_SLOTS_PER_TICK:
                break
            seen.append(slot)
        return seen, (seen[-1] if seen else None)
    last = previous_slot(cron, timezone, now)
    if last is not None and last.fold == 1:  # in a repeated hour: was its wall time fired already?
        start = max(after, last - timedelta(hours=1, minutes=1))
        last = None
        for slot in slots_after(cron, timezone, start):
            if slot > now:
                break
            last = slot
    if last is None or last <= after:
        return [], None
    if catchup is CatchUp.NONE and (now - last).total_seconds() > grace_s:
        return [], last
    return [last], last


def previous_slot(cron: str, timezone: str, now: datetime) -> datetime | None:
    """The latest slot at or before ``now``."""
    it = croniter(cron, (now + _SECOND / 1000).astimezone(zone(timezone)))
    try:
        slot: datetime = it.get_prev(datetime)
    except CroniterBadDateError:
        return None
    return slot
