"""China's calendar and clock (UTC+8, no daylight saving), whatever zone the server keeps: the one place that
says what "today" and "this moment" are for the people who use coopledger."""

from __future__ import annotations

import datetime as dt

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def china_now() -> dt.datetime:
    return dt.datetime.now(CHINA)


def china_today() -> dt.date:
    """Today's date in China (the server may keep another zone)."""
    return china_now().date()


def china_date(moment: dt.datetime) -> dt.date:
    """The date in China of a stored moment (a naive one is UTC, as SQLite hands them back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHINA).date()


def china_minute(moment: dt.datetime) -> str:
    """``2026-12-07 18:05``, China time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
