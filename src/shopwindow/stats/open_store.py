"""Opens the stats store the settings name (Redis or SQLite): the one place that knows both backends."""

from __future__ import annotations

from shopwindow.settings import Settings
from shopwindow.stats.store import StatsLimits, StatsStore, sqlite_path
from shopwindow.stats.store_redis import RedisStatsStore
from shopwindow.stats.store_sqlite import SqliteStatsStore


def open_store(settings: Settings, limits: StatsLimits) -> StatsStore:
    """The backend the settings name: Redis when `redis` is set, else SQLite."""
    if settings.redis:
        return RedisStatsStore(settings.redis, limits)
    return SqliteStatsStore(sqlite_path(settings), limits)
