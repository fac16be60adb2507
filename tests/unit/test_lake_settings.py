"""The lake mode's settings: parsing, validation, secrets kept out of what is shown."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.warehouse import Lake, Warehouse, WarehouseError
from intercom_pipeline.warehouse.database import DBT_PROFILE
from intercom_pipeline.warehouse.extensions import ExtensionMissing, extension_file
from intercom_pipeline.warehouse.lake import lake_settings, parse_catalog, warehouse_mode

CATALOG = "postgres:dbname=intercom host=db.internal port=5433 user=etl password=s3cr'et"


def lake(tmp_path: Path, **env: str) -> Lake:
    variables = {
        "WAREHOUSE": "ducklake",
        "DUCKLAKE_CATALOG": CATALOG,
        "DUCKDB_PATH": str(tmp_path / "intercom.duckdb"),
        **env,
    }
    warehouse = resources_from_environment(variables, resolved=True)["warehouse"].get()
    assert isinstance(warehouse, Lake)
    return warehouse


def test_the_libpq_string_and_the_url_give_the_same_keywords() -> None:
    libpq = parse_catalog("dbname=intercom host=db user=etl password='a b' port=5433")
    url = parse_catalog("postgresql://etl:a%20b@db:5433/intercom")
    assert {k: str.__str__(v) for k, v in libpq.items()} == {
        "dbname": "intercom",
        "host": "db",
        "user": "etl",
        "password": "a b",
        "port": "5433",
    }
    assert {k: str.__str__(v) for k, v in url.items()} == {
        k: str.__str__(v) for k, v in libpq.items()
    }
    assert parse_catalog("ducklake:postgres:dbname=x")["dbname"] == "x"


def test_the_password_reaches_the_attach_but_never_what_is_shown(tmp_path: Path) -> None:
    settings = lake_settings(CATALOG, str(tmp_path / "data"))
    assert "s3cr" not in settings.describe() and "password=****" in settings.describe()
    assert "s3cr" not in repr(settings.catalog["password"])
    assert "password='s3cr\\'et'" in settings.catalog_dsn()
    assert "dbname=intercom host=db.internal port=5433 user=etl" in settings.catalog_dsn()


def test_settings_that_cannot_work_name_the_variable_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"DUCKLAKE_CATALOG.*dbname"):
        parse_catalog("host=db user=etl")
    with pytest.raises(ConfigurationError, match="WAREHOUSE=ducklake needs DUCKLAKE_CATALOG"):
        lake_settings("  ", "")
    with pytest.raises(ConfigurationError, match=r"DUCKLAKE_DATA_PATH='gs://b/x'.*s3://"):
        lake_settings(CATALOG, "gs://b/x")
    with pytest.raises(ConfigurationError, match=r"WAREHOUSE='lake'.*duckdb.*ducklake"):
        warehouse_mode("lake")
    assert warehouse_mode("") == "duckdb" and warehouse_mode(" DuckLake ") == "ducklake"


def test_the_data_path_is_a_folder_or_a_bucket_ending_in_a_slash(tmp_path: Path) -> None:
    assert lake_settings(CATALOG, "s3://bucket/lake").data_path == "s3://bucket/lake/"
    local = lake_settings(CATALOG, "relative/lake").data_path
    assert Path(local).is_absolute() and local.endswith("relative/lake/")


def test_the_default_mode_is_the_file(tmp_path: Path) -> None:
    env = {"DUCKDB_PATH": str(tmp_path / "intercom.duckdb"), "DUCKLAKE_CATALOG": CATALOG}
    warehouse = resources_from_environment(env, resolved=True)["warehouse"].get()
    assert type(warehouse) is Warehouse


def test_an_object_store_gets_an_s3_secret_addressed_path_style(tmp_path: Path) -> None:
    warehouse = lake(
        tmp_path,
        DUCKLAKE_DATA_PATH="s3://lake-bucket/intercom",
        AWS_ACCESS_KEY_ID="AKIA1",
        AWS_SECRET_ACCESS_KEY="very-secret",
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL="http://minio:9000",
    )
    secret, attach, use = warehouse.session_statements(read_only=True)
    assert secret == (
        "create or replace secret lake_s3 (type s3, key_id 'AKIA1', secret 'very-secret', "
        "region 'eu-west-1', endpoint 'minio:9000', url_style 'path', use_ssl false)"
    )
    assert attach.endswith(
        "as intercom (data_path 's3://lake-bucket/intercom/', metadata_schema 'intercom', "
        "read_only)"
    )
    assert use == "use intercom"
    assert "very-secret" not in warehouse.describe() and "s3cr" not in warehouse.describe()


def test_the_dbt_profile_attaches_the_same_lake_readable_by_its_owner_alone(
    tmp_path: Path,
) -> None:
    warehouse = lake(tmp_path, DUCKLAKE_DATA_PATH=str(tmp_path / "data"))
    profile_file = warehouse.write_dbt_profile(tmp_path / "dbt") / "profiles.yml"
    assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
    output = json.loads(profile_file.read_text())[DBT_PROFILE]["outputs"]["warehouse"]
    assert output["database"] == "intercom" and output["path"] == ":memory:"
    (attach,) = output["attach"]
    assert attach["alias"] == "intercom"
    assert attach["path"] == f"ducklake:postgres:{warehouse.lake.catalog_dsn()}"
    assert attach["options"] == {
        "data_path": f"{tmp_path / 'data'}/",
        "metadata_schema": "intercom",
    }


def test_a_missing_extension_package_names_the_package_and_the_install() -> None:
    with pytest.raises(ExtensionMissing, match=r"duckdb-extension-nowhere==.*pip install"):
        extension_file("nowhere")
    with pytest.raises(ExtensionMissing, match=r"built for DuckDB v1\.5\.5.*DuckDB 9\.9\.9"):
        extension_file("ducklake", version="9.9.9")
    assert extension_file("ducklake").name == "ducklake.duckdb_extension"


def test_an_unreachable_catalog_is_named_without_its_password(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    catalog = f"dbname=intercom host=127.0.0.1 port={port} user=etl password=hunter2"
    warehouse = lake(tmp_path, DUCKLAKE_CATALOG=catalog, DUCKLAKE_DATA_PATH=str(tmp_path / "d"))
    with pytest.raises(WarehouseError) as refused:
        warehouse.connect("the test").__enter__()
    message = str(refused.value)
    assert f"port={port}" in message and "PostgreSQL server answers" in message
    assert "hunter2" not in message and "password=****" in message


def test_without_a_home_folder_the_error_names_home_not_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOME")
    warehouse = lake(tmp_path, DUCKLAKE_DATA_PATH=str(tmp_path / "d"))
    with pytest.raises(WarehouseError) as refused:
        warehouse.connect("the test").__enter__()
    assert "HOME" in str(refused.value) and "PostgreSQL" not in str(refused.value)


def test_config_shows_the_mode_and_the_lake_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from intercom_pipeline.cli import main

    monkeypatch.setenv("WAREHOUSE", "ducklake")
    monkeypatch.setenv("DUCKLAKE_CATALOG", CATALOG)
    monkeypatch.setenv("DUCKLAKE_DATA_PATH", str(tmp_path / "data"))
    assert main(["config"]) == 0
    shown = capsys.readouterr().out
    assert (
        "WAREHOUSE              ducklake: DuckLake intercom (catalog postgres:dbname=intercom "
        f"host=db.internal port=5433 user=etl password=****, data {tmp_path / 'data'}/)"
    ) in shown
    assert "s3cr" not in shown


def test_both_modes_load_in_1gb_unless_a_budget_is_set(tmp_path: Path) -> None:
    """DuckDB 1.5 merges the bench-scale parts in 1GB, not in 512MB; DuckLake needs it too."""
    assert lake(tmp_path).settings.load_memory_limit == "1GB"
    assert lake(tmp_path, DUCKDB_LOAD_MEMORY_LIMIT="2GB").settings.load_memory_limit == "2GB"
    env = {"DUCKDB_PATH": str(tmp_path / "intercom.duckdb")}
    file_mode = resources_from_environment(env, resolved=True)["warehouse"].get()
    assert file_mode.settings.load_memory_limit == "1GB"


def test_dlt_folders_of_ended_processes_on_this_host_are_removed(tmp_path: Path) -> None:
    warehouse = lake(tmp_path)
    folders = warehouse.settings.work_dir / "dlt"
    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftovers = {
        "ended": folders / f"process-{host}-{dead.pid}",
        "other host": folders / f"process-elsewhere-{dead.pid}",
        "alive": folders / f"process-{host}-1",  # pid 1 is always alive
    }
    for folder in leftovers.values():
        (folder / "intercom").mkdir(parents=True)
    own = warehouse.pipelines_dir
    assert own == folders / f"process-{host}-{os.getpid()}"
    assert {name: folder.exists() for name, folder in leftovers.items()} == {
        "ended": False,
        "other host": True,
        "alive": True,
    }
