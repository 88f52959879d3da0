"""Configuration from ``FANZHA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANZHA_", extra="ignore")

    #: SQLAlchemy URL. The default is the SQLite file ``fanzha.db`` in the data directory.
    database_url: str = ""
    #: Secret for signing login tokens. Unset: a random one is made per data directory
    #: and kept in ``.fanzha/secret`` (never in the repository).
    secret_key: str | None = None
    token_minutes: int = 8 * 60
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".fanzha")
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = "sqlite:///" + str(self.data_dir / "fanzha.db")
        if self.database_url.startswith("sqlite:///") and self.database_url != "sqlite:///:memory:":
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
