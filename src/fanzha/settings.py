"""Configuration from ``FANZHA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANZHA_", extra="ignore")

    #: SQLAlchemy URL. The default is a SQLite file in ``.fanzha/`` beside the working dir.
    database_url: str = "sqlite:///" + str(Path(".fanzha") / "fanzha.db")
    #: Secret for signing login tokens. Unset: a random one is made per data directory
    #: and kept in ``.fanzha/secret`` (never in the repository).
    secret_key: str | None = None
    token_minutes: int = 8 * 60
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".fanzha")
    timezone: str = "Asia/Shanghai"


@lru_cache
def get_settings() -> Settings:
    return Settings()
