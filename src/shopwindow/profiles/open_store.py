"""Opens the profile store the settings name (Redis or SQLite): the one place that knows both backends."""

from __future__ import annotations

from shopwindow.profiles.store import ProfileStore, profile_db_path
from shopwindow.profiles.store_redis import RedisProfiles
from shopwindow.profiles.store_sqlite import SQLiteProfiles
from shopwindow.settings import Settings


def open_store(settings: Settings, *, for_requests: bool = True) -> ProfileStore:
    """The backend the settings name: Redis when a URL is set, else the SQLite file.

    `for_requests` picks the few-millisecond timeouts of the request path; bulk
    work (imports, the write-behind flusher) opens a store with patient timeouts.
    """
    half_life = float(settings.affinity_half_life_days)
    if settings.redis:
        timeout = settings.redis_timeout_ms / 1000 if for_requests else 5.0
        return RedisProfiles(settings.redis, timeout=timeout, half_life_days=half_life)
    return SQLiteProfiles(
        profile_db_path(settings), half_life_days=half_life, bulk=not for_requests
    )
