"""The lake mode's settings: a DuckLake with its catalog in PostgreSQL and its data as Parquet.

`DUCKLAKE_CATALOG` is a libpq connection string (`dbname=intercom host=db user=intercom`,
`postgres:` in front optional) or a `postgresql://` URL; it may hold a password, so it is kept
as a `Secret` and shown with the password masked. `DUCKLAKE_DATA_PATH` is a folder or an
`s3://` URL; S3 credentials come with the settings (`AWS_*`), never from a file in the repo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from intercom_pipeline.settings import ConfigurationError, Secret, absolute_path

MODES = ("duckdb", "ducklake")
DEFAULT_MODE = "duckdb"
DEFAULT_DATA_PATH = "data/lake"
# The lake's name when attached: the database name dbt's relations carry. The file mode's is
# the file's stem (`intercom` by default), so the models' SQL is one for both modes.
LAKE_NAME = "intercom"
_PAIR = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
NO_SECRET = Secret("")
_CATALOG_EXAMPLE = "postgres:dbname=intercom host=127.0.0.1 user=intercom"


@dataclass(frozen=True)
class S3Settings:
    """Credentials for an `s3://` data path (any S3-compatible store)."""

    key_id: str = ""
    secret: Secret = NO_SECRET
    region: str = ""
    endpoint_url: str = ""  # an S3-compatible store (http://minio:9000); empty: AWS


@dataclass(frozen=True)
class LakeSettings:
    catalog: dict[str, Secret | str]  # libpq keywords: dbname, host, port, user, password, ...
    data_path: str  # an absolute folder ending in "/", or an s3:// URL ending in "/"
    s3: S3Settings

    @property
    def is_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def catalog_dsn(self) -> str:
        """The libpq string with its password (for the ATTACH statement only)."""
        return " ".join(f"{k}={_quote(str.__str__(v))}" for k, v in self.catalog.items())

    def describe(self) -> str:
        """Where the lake is, without secrets: for logs and errors."""
        shown = " ".join(f"{k}={'****' if k == 'password' else v}" for k, v in self.catalog.items())
        return f"DuckLake {LAKE_NAME} (catalog postgres:{shown}, data {self.data_path})"


def _quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_catalog(raw: str) -> dict[str, Secret | str]:
    """DUCKLAKE_CATALOG as libpq keywords; the password kept as a Secret."""
    text = raw.strip()
    text = text.removeprefix("ducklake:").removeprefix("postgres:")
    if text.startswith(("postgres://", "postgresql://")):
        pairs = _url_pairs(text)
    else:
        pairs = {k: v.strip("'").replace("\\'", "'") for k, v in _PAIR.findall(text)}
    if not pairs.get("dbname"):
        raise ConfigurationError(
            "DUCKLAKE_CATALOG names no database: give a PostgreSQL connection string with a "
            f"dbname, such as {_CATALOG_EXAMPLE!r}."
        )
    return {k: Secret(v) if k == "password" else v for k, v in pairs.items()}


def _url_pairs(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    pairs = {
        "dbname": parsed.path.lstrip("/"),
        "host": parsed.hostname or "",
        "port": str(parsed.port or ""),
        "user": unquote(parsed.username or ""),
        "password": unquote(parsed.password or ""),
    }
    return {k: v for k, v in pairs.items() if v}


def lake_settings(catalog: str, data_path: str, s3: S3Settings | None = None) -> LakeSettings:
    """Validated lake settings; each error names the variable and the fix."""
    if not catalog.strip():
        raise ConfigurationError(
            "WAREHOUSE=ducklake needs DUCKLAKE_CATALOG, the PostgreSQL database that holds the "
            f"lake's catalog, such as {_CATALOG_EXAMPLE!r}."
        )
    path = data_path.strip() or DEFAULT_DATA_PATH
    if "://" in path and not path.startswith("s3://"):
        raise ConfigurationError(f"DUCKLAKE_DATA_PATH={data_path!r}: use a folder or an s3:// URL.")
    if not path.startswith("s3://"):
        path = str(absolute_path(path))
    return LakeSettings(parse_catalog(catalog), path.rstrip("/") + "/", s3 or S3Settings())


def warehouse_mode(raw: str) -> str:
    mode = raw.strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise ConfigurationError(
            f"WAREHOUSE={raw!r}: use duckdb (one file, the default) or ducklake (a catalog in "
            "PostgreSQL and Parquet files, for many writers and readers)."
        )
    return mode
