"""Typed settings, read from the environment (prefix CLEARINGHOUSE_) and refusing unsafe defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_dir
from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clearinghouse.errors import ClearinghouseError, validation_message

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused outside development


def default_data_dir() -> Path:
    """The per-user data folder where the embedded store lives unless told otherwise."""
    return Path(user_data_dir("clearinghouse", appauthor=False))


LogLevelName = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    """Everything the application reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CLEARINGHOUSE_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="Deployment kind; production refuses development defaults."
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="Folder for the embedded store.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: an SQLite file clearinghouse.db in data_dir.",
    )
    secret_key: str = Field(
        default=DEVELOPMENT_SECRET,
        description="Key for signing sessions and tokens, and for hashing what the flood and sign-in guards count.",
    )
    maxmind_db: Path | None = Field(
        default=None, description="Optional MaxMind-format (.mmdb) database for locating IP addresses."
    )
    log_level: Annotated[LogLevelName, BeforeValidator(_upper)] = Field(
        default="INFO", description="Minimum level of the structured log (any case); `--log-level` overrides it."
    )
    xml_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Largest XML (or JSON) request document accepted; a longer body is refused unread.",
    )

    public_reports_per_hour: int = Field(
        default=20,
        ge=0,
        description="Reports the public form takes from one network address in an hour, all workers together; 0: any.",
    )
    sign_in_failures_per_name: int = Field(
        default=10,
        ge=0,
        description="Failed sign-ins for one account name from one network address in 15 minutes; 0: any.",
    )
    sign_in_failures_per_address: int = Field(
        default=50,
        ge=0,
        description="Failed sign-ins from one network address in 15 minutes, whatever the names; 0: any.",
    )

    @model_validator(mode="after")
    def _refuse_development_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("CLEARINGHOUSE_SECRET_KEY must be set to a real secret in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The store's URL, defaulting to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'clearinghouse.db'}"


class SettingsError(ClearinghouseError):
    """An environment variable the settings refuse, named with what is wrong."""


UNSHOWN = frozenset({"secret_key", "database_url"})
"""Settings whose refused value is never repeated in a message (a secret, a password in a URL)."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once); `SettingsError` names every variable refused."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError("; ".join(_problem(problem) for problem in error.errors(include_url=False))) from None


def _problem(problem: Any) -> str:
    message = validation_message(problem)
    if not problem["loc"]:  # a rule across settings (`_refuse_development_secret`): its message names them
        return message
    name = str(problem["loc"][0])
    given = "" if name in UNSHOWN else f" (given: {problem['input']!r})"
    return f"CLEARINGHOUSE_{name.upper()}: {message}{given}"
