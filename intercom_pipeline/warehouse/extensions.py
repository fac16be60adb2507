"""DuckDB's extensions from PyPI packages, never downloaded at run time.

The lake mode needs DuckDB's `ducklake` extension, `postgres_scanner` for its catalog and
`httpfs` for an object store. DuckDB would download them on first use, which fails offline and
pins nothing; the `duckdb-extension-<name>` packages (the project's `lake` extra) carry them
built for one DuckDB release. `install_extensions` copies each into DuckDB's extension folder
(`INSTALL '<file>'`, a local copy), from where every DuckDB connection of this release loads it
by itself: ours, dlt's, dbt's and a reader's.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

from intercom_pipeline.warehouse.lock import WarehouseError

LAKE_EXTENSIONS = ("ducklake", "postgres_scanner", "httpfs")
_INSTALL_HINT = "pip install -e '.[lake]' (make setup does it)"


class ExtensionMissing(WarehouseError):
    """An extension the mode needs is not installed as a package for this DuckDB."""


def extension_file(name: str, version: str = duckdb.__version__) -> Path:
    """The extension's file in its PyPI package, for DuckDB `version`.

    Raises:
        ExtensionMissing: the package is not installed, or is built for another DuckDB.
    """
    package = f"duckdb-extension-{name.replace('_', '-')}"
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        raise ExtensionMissing(
            f"WAREHOUSE=ducklake needs DuckDB's {name} extension, from the PyPI package "
            f"{package}=={version}, which is not installed: {_INSTALL_HINT}."
        ) from None
    folder = Path(str(module.__file__)).parent / "extensions"
    path = folder / f"v{version}" / f"{name}.duckdb_extension"
    if not path.is_file():
        built = ", ".join(sorted(p.name for p in folder.glob("v*"))) or "no release"
        raise ExtensionMissing(
            f"The installed {package} is built for DuckDB {built}, but this is DuckDB "
            f"{version}: install {package}=={version} ({_INSTALL_HINT})."
        )
    return path


def install_extensions(
    conn: duckdb.DuckDBPyConnection, names: tuple[str, ...] = LAKE_EXTENSIONS
) -> None:
    """Install `names` from their packages into DuckDB's extension folder, once per folder."""
    installed = {
        name
        for (name,) in conn.execute(
            "select extension_name from duckdb_extensions() where installed"
        ).fetchall()
    }
    for name in names:
        if name not in installed:
            conn.execute(f"install '{extension_file(name)}'")
