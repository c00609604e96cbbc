"""Configuration: one pydantic-settings tree, built once at the entry point and passed down.

Precedence, highest first: explicit arguments, environment (``SHIPYARD_*``), ``shipyard.toml`` (in
the working directory, or the file named by ``SHIPYARD_CONFIG``), defaults. Values derived from
others (the database and artifact locations default to files inside ``home``) are resolved by
:meth:`Settings.resolved_db_url` and :meth:`Settings.resolved_artifacts`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shipyard.errors import ConfigError

CONFIG_FILE_ENV = "SHIPYARD_CONFIG"
DEFAULT_CONFIG_FILE = "shipyard.toml"


def config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """Every setting Shipyard reads. Field docs are shown by ``shipyard config show``."""

    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", extra="forbid", validate_default=True)

    home: Path = Field(Path(".shipyard"), description="Folder for embedded state (database, artifacts).")
    db_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata database (default: SQLite file in home)."
    )
    artifacts: str | None = Field(
        None,
        description="Artifact store: a folder, file://…, s3://bucket/prefix or memory:// (default: home/artifacts).",
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible server (MinIO, Ceph, …)."
    )
    url: str | None = Field(None, description="Shipyard server URL; when set the SDK works in remote mode.")
    token: SecretStr | None = Field(None, description="Bearer token for the server in remote mode.")
    user: str | None = Field(None, description="User recorded on runs in embedded mode (default: OS user).")
    metric_flush_size: int = Field(10_000, ge=1, description="Buffered metric points that trigger a flush.")
    metric_flush_interval: float = Field(
        2.0, gt=0, description="Seconds after which buffered metric points are flushed anyway."
    )
    token_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="Seconds the server trusts a checked token without a query: a revoked token or a "
        "disabled user is refused by every server process within this bound (0: check every request).",
    )
    auto_upgrade: bool = Field(True, description="Upgrade an embedded (SQLite) database on first use.")
    online_store: str | None = Field(
        None,
        description="Online feature store: a SQLite file path, sqlite:///…, redis://… or memory:// (default: home/online.db).",
    )
    offline_memory_limit: str = Field(
        "4GB", description="Memory DuckDB may use for point-in-time joins before spilling to disk."
    )
    # -- server limits (see docs/limits.md): each answers 413 or 422 naming the setting ----------
    max_body_bytes: int = Field(
        8 * 2**20, ge=1024, description="Largest request body the API reads (JSON routes), in bytes."
    )
    max_upload_bytes: int = Field(
        512 * 2**20, ge=1024, description="Largest artifact or package upload the API accepts, in bytes."
    )
    max_metric_points: int = Field(
        50_000,
        ge=1,
        description="Metric points one request may log (the SDK sends batches of metric_flush_size).",
    )
    max_tags: int = Field(
        1_000, ge=1, description="Tags a run (or experiment) may hold, and one request may set."
    )
    max_params: int = Field(1_000, ge=1, description="Params a run may hold, and one request may log.")
    max_filter_length: int = Field(4_096, ge=16, description="Characters in a run search filter.")
    max_filter_terms: int = Field(64, ge=1, description="Comparisons (terms) in a run search filter.")
    token_lifetime_days: float = Field(
        90, ge=0, le=3650, description="Lifetime of a token created without one, in days (0: no expiry)."
    )
    https: bool = Field(
        False, description="The server is reached over HTTPS: the web UI's cookies are marked Secure."
    )
    executor: str = Field("local", description="Where pipeline steps run: local, process or ray.")
    ray_address: str | None = Field(
        None, description="Ray cluster address for the ray executor (default: start a local Ray)."
    )
    pipelines_experiment: str = Field(
        "pipelines/{name}", description="Experiment of pipeline runs; {name} is the pipeline's name."
    )
    trust_pickle: bool = Field(
        False,
        description="Load model artifacts stored with pickle/joblib (only enable for artifacts you trust).",
    )

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/") if value else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_file()))

    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'shipyard.db').as_posix()}"

    def resolved_artifacts(self) -> str:
        return self.artifacts or str(self.home / "artifacts")

    def resolved_online_store(self) -> str:
        return self.online_store or str(self.home / "online.db")

    @property
    def remote(self) -> bool:
        return self.url is not None

    @property
    def single_writer(self) -> bool:
        """Whether the store takes one write at a time: embedded mode on SQLite."""
        return not self.remote and self.resolved_db_url().startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation problems into one readable :class:`ConfigError`."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file()} is not valid TOML: {exc}", field="config") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {name}: {first['msg']}", field=name) from None


@dataclass(frozen=True)
class SettingOrigin:
    name: str
    value: str
    source: str
    description: str


def explain(settings: Settings, **overrides: Any) -> list[SettingOrigin]:
    """Each setting's effective value and where it came from, for ``shipyard config show``."""
    env = EnvSettingsSource(Settings)()
    path = config_file()
    toml = TomlConfigSettingsSource(Settings, path)() if path.exists() else {}
    derived = {"db_url": settings.resolved_db_url(), "artifacts": settings.resolved_artifacts()}
    rows = []
    for name, field in Settings.model_fields.items():
        value: Any = getattr(settings, name)
        if name in overrides:
            source = "argument"
        elif name in env:
            source = f"environment (SHIPYARD_{name.upper()})"
        elif name in toml:
            source = f"config file ({path})"
        elif name in derived:
            source = "default (derived from home)"
            value = derived[name]
        else:
            source = "default"
        if isinstance(value, SecretStr):
            value = "********"
        rows.append(SettingOrigin(name, "" if value is None else str(value), source, field.description or ""))
    return rows


__all__ = ["ConfigError", "SettingOrigin", "Settings", "explain", "load_settings"]
