"""The warehouse as a DuckLake: many writers and readers, on one host or many.

The lake's catalog is a PostgreSQL database and its data are Parquet files in a folder or an
object store. Each connection is an in-memory DuckDB that attaches the lake; every commit is a
transaction in the catalog, so processes on any host write side by side (other tables, or
appends to the same one) and readers see the last committed snapshot without blocking anyone.
There is no file to lock and no copy to publish.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dlt
import duckdb
from dlt.common.configuration.specs import AwsCredentials, ConnectionStringCredentials
from dlt.common.destination import Destination
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.destinations.impl.ducklake.configuration import DuckLakeCredentials

from intercom_pipeline.warehouse.database import DBT_PROFILE, Warehouse
from intercom_pipeline.warehouse.extensions import install_extensions
from intercom_pipeline.warehouse.lake import LAKE_NAME, LakeSettings
from intercom_pipeline.warehouse.lock import Log, WarehouseError
from intercom_pipeline.warehouse.settings import WarehouseSettings

_CATALOG_RACE_ATTEMPTS = 5

_S3_SECRET = "lake_s3"


def open_warehouse(settings: WarehouseSettings, log: Log | None = None) -> Warehouse:
    """The warehouse the settings describe: the lake (WAREHOUSE=ducklake) or the file."""
    return Lake(settings, log) if settings.lake is not None else Warehouse(settings, log)


class Lake(Warehouse):
    """The DuckLake of `settings.lake`; used wherever a `Warehouse` is."""

    @property
    def lake(self) -> LakeSettings:
        assert self.settings.lake is not None
        return self.settings.lake

    @property
    def pipelines_dir(self) -> Path:
        """Dlt's working folder, one per process: runs load side by side, each from its own.

        The state that counts (incremental cursors) lives in the lake; dlt restores it. The
        folders of this host's processes that have ended are removed, so a bench-scale run's
        few hundred MB do not pile up (another host's are left to that host).
        """
        folders = self.settings.work_dir / "dlt"
        prefix = f"process-{socket.gethostname()}-"
        for folder in folders.glob(f"{prefix}*"):
            pid = folder.name.removeprefix(prefix)
            if pid.isdigit() and not _process_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
        return folders / f"{prefix}{os.getpid()}"

    def exists(self) -> bool:
        """A lake is created on its first attach: it always exists once reachable."""
        return True

    def describe(self) -> str:
        return self.lake.describe()

    @property
    def spill_dir(self) -> Path:
        """Where DuckDB spills beyond its memory budget.

        The lake's connections are in-memory databases, which have no spill folder of their
        own (a file has `<file>.tmp`).
        """
        return self.settings.work_dir / "spill"

    def _writer(self, purpose: str) -> AbstractContextManager[None]:
        """No lock: the catalog orders commits; a conflicting one fails, and says so."""
        return nullcontext()

    @contextmanager
    def exclusive(self, purpose: str) -> Iterator[None]:
        """Nothing to hold: dbt writes the lake beside the other writers."""
        yield

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The lake attached read-only: its last committed snapshot, blocking no writer."""
        conn = self._open_database(read_only=True)
        try:
            yield conn
        finally:
            conn.close()

    def _open_database(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if not self.lake.is_s3:
            Path(self.lake.data_path).mkdir(parents=True, exist_ok=True)
        attempt = 1
        while True:
            try:
                return self._attach(read_only)
            except duckdb.Error as exc:
                # The first attach of a new lake creates its catalog; two processes doing that
                # at once race in PostgreSQL, and the loser finds the catalog made on a retry.
                if _lost_catalog_race(exc) and attempt < _CATALOG_RACE_ATTEMPTS:
                    time.sleep(0.2 * attempt)
                    attempt += 1
                    continue
                raise WarehouseError(
                    f"cannot attach the {self.describe()}: {_without_password(exc, self.lake)}. "
                    f"{_attach_fix(exc)}"
                ) from None

    def _attach(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect()
        try:
            conn.execute("set TimeZone = 'UTC'")
            conn.execute(f"set temp_directory = '{_sql(str(self.spill_dir))}'")
            install_extensions(conn)
            for statement in self.session_statements(read_only):
                conn.execute(statement)
            if self.lake.is_s3 and not read_only:
                conn.execute(self._bucket_probe_sql())
        except duckdb.Error:
            conn.close()
            raise
        return conn

    def session_statements(self, read_only: bool = False) -> list[str]:
        """The SQL that opens the lake on a fresh DuckDB connection (holds secrets)."""
        statements = [self._s3_secret_sql()] if self.lake.is_s3 else []
        options = f"data_path '{_sql(self.lake.data_path)}', metadata_schema '{LAKE_NAME}'"
        return [
            *statements,
            f"attach if not exists 'ducklake:postgres:{_sql(self.lake.catalog_dsn())}' "
            f"as {LAKE_NAME} ({options}{', read_only' if read_only else ''})",
            f"use {LAKE_NAME}",
        ]

    def _bucket_probe_sql(self) -> str:
        """One listing of an empty prefix: a wrong key, bucket or endpoint fails at the attach.

        The attach itself never touches the bucket, so a writer would otherwise fail only when
        its first Parquet file is written, deep inside dlt or dbt. Readers are not probed: a
        read-only key may lack s3:ListBucket, and their first query names the failure itself.
        """
        return f"select count(*) from glob('{_sql(self.lake.data_path)}.intercom-probe*')"

    def _s3_secret_sql(self) -> str:
        fields = "".join(
            f", {k} {str(v).lower()}" if isinstance(v, bool) else f", {k} '{_sql(v)}'"
            for k, v in self._s3_secret().items()
            if k != "type"
        )
        return f"create or replace secret {_S3_SECRET} (type s3{fields})"

    def _s3_secret(self) -> dict[str, Any]:
        """DuckDB's S3 secret; a custom endpoint (MinIO, R2, ...) is addressed path-style."""
        s3 = self.lake.s3
        secret: dict[str, Any] = {
            "type": "s3",
            "key_id": s3.key_id,
            "secret": str.__str__(s3.secret),
            "region": s3.region,
        }
        if s3.endpoint_url:
            endpoint = urlparse(s3.endpoint_url)
            secret.update(
                endpoint=endpoint.netloc, url_style="path", use_ssl=endpoint.scheme == "https"
            )
        return {k: v for k, v in secret.items() if v != ""}

    def dlt_destination(self, conn: duckdb.DuckDBPyConnection) -> Destination:
        """Dlt's `ducklake` destination on the same lake; dlt opens its own connections."""
        install_extensions(conn)
        catalog = self.lake.catalog
        credentials = DuckLakeCredentials(
            ducklake_name=LAKE_NAME,
            metadata_schema=LAKE_NAME,
            catalog=ConnectionStringCredentials(
                {
                    "drivername": "postgres",
                    "database": catalog.get("dbname"),
                    "host": catalog.get("host"),
                    "port": int(catalog["port"]) if catalog.get("port") else None,
                    "username": catalog.get("user"),
                    "password": str.__str__(catalog.get("password", "")) or None,
                }
            ),
            storage=self._dlt_storage(),
        )
        credentials.global_config = {
            "memory_limit": self.settings.load_memory_limit,
            "temp_directory": str(self.spill_dir),
        }
        return dlt.destinations.ducklake(credentials=credentials)

    def _dlt_storage(self) -> str | FilesystemConfiguration:
        if not self.lake.is_s3:
            return self.lake.data_path
        s3 = self.lake.s3
        aws = AwsCredentials()
        aws.aws_access_key_id = s3.key_id or None
        aws.aws_secret_access_key = str.__str__(s3.secret) or None
        aws.region_name = s3.region or None
        aws.endpoint_url = s3.endpoint_url or None
        return FilesystemConfiguration(bucket_url=self.lake.data_path, credentials=aws)

    def write_dbt_profile(self, folder: Path | None = None) -> Path:
        """dbt-duckdb attaches the lake as database `intercom`: the models' SQL is unchanged."""
        folder = folder or self.settings.work_dir / "dbt"
        folder.mkdir(parents=True, exist_ok=True)
        output: dict[str, Any] = {
            "type": "duckdb",
            "path": ":memory:",
            "database": LAKE_NAME,
            "schema": "main",
            "threads": 1,
            "attach": [
                {
                    "path": f"ducklake:postgres:{self.lake.catalog_dsn()}",
                    "alias": LAKE_NAME,
                    "options": {"data_path": self.lake.data_path, "metadata_schema": LAKE_NAME},
                }
            ],
            "settings": {
                "memory_limit": self.settings.memory_limit,
                "temp_directory": str(self.spill_dir),
                "preserve_insertion_order": False,
                "TimeZone": "UTC",
            },
        }
        if self.lake.is_s3:
            output["secrets"] = [self._s3_secret()]
        profile = {DBT_PROFILE: {"target": "warehouse", "outputs": {"warehouse": output}}}
        path = folder / "profiles.yml"
        # The profile holds the catalog's password: readable by this user alone.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(profile, indent=2) + "\n")
        return folder


def import_file(lake: Lake, path: Path) -> dict[str, int]:
    """Copy the warehouse file `path` into the empty lake; returns tables per schema.

    Everything moves: raw tables with dlt's state (the next sync goes on incrementally), the
    marts, and the push back's, surveys' and audiences' state. dlt's `*_staging` schemas (the
    last load's merge rows) stay behind. A lake that holds tables already is left alone.
    """
    if not path.is_file():
        raise WarehouseError(f"{path} is no file: name the DuckDB warehouse file to import.")
    with lake.connect(f"importing {path}") as conn:
        if held := _tables_per_schema(conn, LAKE_NAME):
            raise WarehouseError(
                f"the {lake.describe()} holds tables already ({sum(held.values())}): import "
                "into a new lake (another DUCKLAKE_CATALOG database and DUCKLAKE_DATA_PATH)."
            )
        conn.execute(f"attach '{_sql(str(path))}' as import_source (read_only)")
        try:
            conn.execute(f"copy from database import_source to {LAKE_NAME}")
            for schema in _tables_per_schema(conn, LAKE_NAME):
                if schema.endswith("_staging"):
                    conn.execute(f'drop schema {LAKE_NAME}."{schema}" cascade')
        finally:
            conn.execute("detach import_source")
        return _tables_per_schema(conn, LAKE_NAME)


def _tables_per_schema(conn: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    rows = conn.execute(
        "select table_schema, count(*) from information_schema.tables "
        "where table_catalog = ? group by 1 order by 1",
        [catalog],
    ).fetchall()
    return dict(rows)


def _sql(value: str) -> str:
    return value.replace("'", "''")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _attach_fix(exc: duckdb.Error) -> str:
    """The fix for an attach that failed, after its cause: the catalog, the data, DuckDB itself."""
    text = str(exc).lower()
    if "home directory" in text:
        return (
            "DuckDB keeps its extensions under $HOME/.duckdb: run with HOME set to a writable "
            "folder."
        )
    if "s3://" in text or "http" in text:  # not "s3": a catalog host may be named s3-...
        return (
            "Check DUCKLAKE_DATA_PATH and the AWS_* credentials, region and endpoint of its bucket."
        )
    return (
        "Check that the PostgreSQL server answers and DUCKLAKE_CATALOG names a database you may "
        "create tables in."
    )


def _lost_catalog_race(exc: duckdb.Error) -> bool:
    return "duplicate key value" in str(exc) or "already exists" in str(exc)


def _without_password(exc: BaseException, lake: LakeSettings) -> str:
    text = str(exc).splitlines()[0]
    password = str.__str__(lake.catalog.get("password", ""))
    return text.replace(password, "****") if password else text
