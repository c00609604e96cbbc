"""Settings come from arguments, environment, shipyard.toml and defaults, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import explain, load_settings
from shipyard.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SHIPYARD_HOME", "SHIPYARD_DB_URL", "SHIPYARD_ARTIFACTS", "SHIPYARD_URL", "SHIPYARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_live_in_the_home_folder() -> None:
    settings = load_settings()
    assert settings.home == Path(".shipyard")
    assert settings.resolved_db_url() == "sqlite:///.shipyard/shipyard.db"
    assert settings.resolved_artifacts() == ".shipyard/artifacts"
    assert not settings.remote


def test_environment_beats_file_beats_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('home = "from-file"\nartifacts = "s3://bucket/prefix"\n')
    monkeypatch.setenv("SHIPYARD_HOME", "from-env")
    settings = load_settings()
    assert settings.home == Path("from-env")
    assert settings.artifacts == "s3://bucket/prefix"
    origins = {o.name: o.source for o in explain(settings)}
    assert origins["home"] == "environment (SHIPYARD_HOME)"
    assert origins["artifacts"].startswith("config file")
    assert origins["db_url"] == "default (derived from home)"
    assert origins["metric_flush_size"] == "default"


def test_config_file_can_be_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "conf" / "prod.toml"
    other.parent.mkdir()
    other.write_text('db_url = "postgresql://db/shipyard"\n')
    monkeypatch.setenv("SHIPYARD_CONFIG", str(other))
    assert load_settings().resolved_db_url() == "postgresql://db/shipyard"


def test_token_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_URL", "http://127.0.0.1:8080/")
    monkeypatch.setenv("SHIPYARD_TOKEN", "shp_secret")
    settings = load_settings()
    assert settings.remote and settings.url == "http://127.0.0.1:8080"
    shown = {o.name: o.value for o in explain(settings)}
    assert shown["token"] == "********" and "shp_secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [("SHIPYARD_URL", "ftp://x", "url"), ("SHIPYARD_METRIC_FLUSH_SIZE", "0", "metric_flush_size")],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=field):
        load_settings()


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('hme = "typo"\n')
    with pytest.raises(ConfigError, match="hme"):
        load_settings()
