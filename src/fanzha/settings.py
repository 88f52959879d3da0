"""Configuration from ``FANZHA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LoopSettings(BaseSettings):
    """How this deployment runs the gateway's loop: read by every road an answer comes
    by (the dispatcher, the callback route, a liaison's inbox), so a case's mode never
    depends on which one brought its first answer. Part of :class:`Settings`; read
    alone by the loop (:func:`get_loop_settings`), which needs nothing else."""

    model_config = SettingsConfigDict(env_prefix="FANZHA_", extra="ignore")

    #: ``FANZHA_LOOP_OFFICER_ROUND``: minutes between officer rounds when the centre runs
    #: the loop "by hand" (what an answer calls for waits for the next round). Unset or
    #: 0: automatic, every order goes as soon as it is decided.
    loop_officer_round: float | None = None

    @field_validator("loop_officer_round")
    @classmethod
    def _round_not_negative(cls, v: float | None) -> float | None:
        if v is not None and v < 0:
            raise ValueError("FANZHA_LOOP_OFFICER_ROUND must be a positive number of minutes (or 0: automatic)")
        return v or None


class Settings(LoopSettings):
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


@lru_cache
def get_loop_settings() -> LoopSettings:
    return LoopSettings()
