from pathlib import Path

import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.settings import (
    PROJECT_ROOT,
    ConfigurationError,
    IntercomSettings,
    Secret,
    intercom_settings,
)


def duckdb_path(env: dict[str, str]) -> Path:
    """The warehouse file the resources read from `env` (DUCKDB_PATH)."""
    return resources_from_environment(env, resolved=True)["warehouse"].get().path


def serving_path(env: dict[str, str]) -> Path:
    """The BI copy the resources read from `env` (DUCKDB_SERVING_DIR and DUCKDB_PATH)."""
    return resources_from_environment(env, resolved=True)["warehouse"].get().settings.serving_path


def intercom_workspaces(env: dict[str, str]) -> list[IntercomSettings]:
    """The workspaces the Intercom resource reads from `env` (INTERCOM_WORKSPACES, ...)."""
    return resources_from_environment(env, resolved=True)["intercom"].settings()


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us", "https://api.intercom.io"),
        ("EU", "https://api.eu.intercom.io"),
        ("au", "https://api.au.intercom.io"),
    ],
)
def test_region_picks_the_base_url(region: str, url: str) -> None:
    settings = intercom_settings({"INTERCOM_REGION": region})
    assert settings.base_url == url
    assert settings.api_version == "2.16"
    assert not settings.uses_custom_base_url


def test_base_url_override_and_version() -> None:
    settings = intercom_settings(
        {
            "INTERCOM_BASE_URL": "http://127.0.0.1:8765/",
            "INTERCOM_API_VERSION": "2.15",
        }
    )
    assert settings.base_url == "http://127.0.0.1:8765"
    assert settings.api_version == "2.15"
    assert settings.uses_custom_base_url


def test_wrong_region_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"INTERCOM_REGION='mars'.*us, eu, au"):
        intercom_settings({"INTERCOM_REGION": "mars"})


def test_base_url_without_scheme_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="INTERCOM_BASE_URL"):
        intercom_settings({"INTERCOM_BASE_URL": "localhost:8765"})


def test_token_never_shows_in_text() -> None:
    settings = intercom_settings({"INTERCOM_ACCESS_TOKEN": "tok_very_secret"})
    assert settings.access_token.reveal() == "tok_very_secret"
    for text in (repr(settings), str(settings), f"{settings.access_token}", repr(Secret("x"))):
        assert "tok_very_secret" not in text and "'x'" not in text


def test_relative_duckdb_path_resolves_against_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert duckdb_path({"DUCKDB_PATH": "data/w.duckdb"}) == PROJECT_ROOT / "data" / "w.duckdb"
    assert duckdb_path({}) == PROJECT_ROOT / "data" / "intercom.duckdb"
    absolute = tmp_path / "x.duckdb"
    assert duckdb_path({"DUCKDB_PATH": str(absolute)}) == absolute


def test_duckdb_path_that_is_a_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        duckdb_path({"DUCKDB_PATH": str(tmp_path)})


def test_several_workspaces_read_their_own_variables() -> None:
    workspaces = intercom_workspaces(
        {
            "INTERCOM_WORKSPACES": "acme, globex",
            "INTERCOM_ACCESS_TOKEN": "shared",
            "INTERCOM_ACME_ACCESS_TOKEN": "tok_acme",
            "INTERCOM_GLOBEX_REGION": "eu",
        }
    )
    assert [w.name for w in workspaces] == ["acme", "globex"]
    assert workspaces[0].access_token.reveal() == "tok_acme"
    assert workspaces[1].access_token.reveal() == "shared"  # falls back to the unprefixed one
    assert workspaces[1].base_url == "https://api.eu.intercom.io"
    assert intercom_workspaces({})[0].name == "default"


def test_a_bad_workspace_name_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="letters, digits and underscores"):
        intercom_workspaces({"INTERCOM_WORKSPACES": "acme-eu"})


def test_the_bi_copy_keeps_the_warehouse_file_name_in_its_own_folder(tmp_path: Path) -> None:
    env = {"DUCKDB_PATH": str(tmp_path / "acme.duckdb")}
    assert serving_path(env) == PROJECT_ROOT / "data" / "serving" / "acme.duckdb"
    env["DUCKDB_SERVING_DIR"] = str(tmp_path / "bi")
    assert serving_path(env) == tmp_path / "bi" / "acme.duckdb"
    env["DUCKDB_SERVING_DIR"] = str(tmp_path)
    with pytest.raises(ConfigurationError, match="needs a folder of its own"):
        serving_path(env)


def test_the_lookback_defaults_to_ten_minutes_and_takes_whole_seconds() -> None:
    from intercom_pipeline.settings import lookback_seconds

    assert lookback_seconds({}) == 600
    assert lookback_seconds({"INTERCOM_LOOKBACK_SECONDS": " 3600 "}) == 3600
    assert lookback_seconds({"INTERCOM_LOOKBACK_SECONDS": "0"}) == 0
    for bad in ("10m", "-5", "1.5"):
        with pytest.raises(ConfigurationError, match=rf"INTERCOM_LOOKBACK_SECONDS='{bad}'"):
            lookback_seconds({"INTERCOM_LOOKBACK_SECONDS": bad})


def test_on_type_change_is_report_or_stop() -> None:
    from intercom_pipeline.settings import stop_on_type_change

    assert not stop_on_type_change({})
    assert stop_on_type_change({"INTERCOM_ON_TYPE_CHANGE": "Stop"})
    with pytest.raises(ConfigurationError, match=r"INTERCOM_ON_TYPE_CHANGE='halt'.*report"):
        stop_on_type_change({"INTERCOM_ON_TYPE_CHANGE": "halt"})
