"""The warehouse: the one object through which dlt, dbt and the Python writers reach DuckDB.

Every connection takes the writer lock (`lock.py`) and then waits, bounded, for any other
process that holds the file (a notebook or BI tool reading it read-only), naming it; a file
that is not a DuckDB database is named in one line with the fix.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import dlt
import duckdb
from dlt.common.destination import Destination

from intercom_pipeline.warehouse.lock import (
    Holder,
    Log,
    WarehouseError,
    WriterLock,
    process_command,
    wait_for,
)
from intercom_pipeline.warehouse.settings import WarehouseSettings, warehouse_settings

DBT_PROFILE = "intercom_analytics"
_CONFLICT = re.compile(r"Conflicting lock is held in (?P<command>.*?) \(PID (?P<pid>\d+)\)")


class NotADatabase(WarehouseError):
    """DUCKDB_PATH names a file that DuckDB cannot open as a database."""


class Warehouse:
    """The DuckDB warehouse of one `WarehouseSettings`, shared by every writer in the process."""

    # (path, thread) -> the connection that thread opened: its nested `connect` calls share it
    # (dlt's borrowed connection and a check run inside a load). Other threads open their own,
    # which DuckDB serves from the same database instance.
    _open: ClassVar[dict[tuple[str, int], duckdb.DuckDBPyConnection]] = {}

    def __init__(self, settings: WarehouseSettings, log: Log | None = None) -> None:
        self.settings = settings
        self.log: Log = log or logging.getLogger(__name__)
        self.lock = WriterLock(
            settings.work_dir / "writer.lock", settings.lock_timeout_seconds, self.log
        )

    @classmethod
    def at(cls, path: Path, log: Log | None = None, **settings: Any) -> Warehouse:
        """The warehouse in the file `path`, its BI copy in `serving/` beside it.

        Every other setting keeps its default.
        """
        settings.setdefault("serving_dir", str(Path(path).parent / "serving"))
        return cls(warehouse_settings(path=str(path), **settings), log)

    @property
    def path(self) -> Path:
        return self.settings.path

    @property
    def pipelines_dir(self) -> Path:
        """Dlt's working folder for this warehouse alone: two warehouses never share state."""
        return self.settings.work_dir / "dlt"

    def exists(self) -> bool:
        return self.path.exists()

    def describe(self) -> str:
        """Where the warehouse is, for messages (never with a secret)."""
        return str(self.path)

    def _writer(self, purpose: str) -> AbstractContextManager[None]:
        """One writer at a time: DuckDB lets one process open a file for writing."""
        return self.lock.held(purpose)

    @contextmanager
    def connect(
        self, purpose: str = "writing", *, memory_limit: str | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection under the writer lock; inside another in this thread, a cursor of it.

        Raises:
            WarehouseBusy: another process held the file longer than the configured wait.
            NotADatabase: the file is not a DuckDB database.
        """
        with self._writer(purpose):
            key = (self.describe(), threading.get_ident())
            shared = self._open.get(key)
            if shared is not None:
                with shared.cursor() as cursor:
                    yield cursor
                return
            conn = self._open_database()
            try:
                conn.execute(f"set memory_limit = '{memory_limit or self.settings.memory_limit}'")
                self._open[key] = conn
                yield conn
            finally:
                self._open.pop(key, None)
                conn.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """What a reader sees: a read-only connection to the published BI copy."""
        with duckdb.connect(str(self.settings.serving_path), read_only=True) as conn:
            yield conn

    @contextmanager
    def exclusive(self, purpose: str) -> Iterator[None]:
        """Hold the warehouse, free of other processes, for a subprocess of ours (dbt) to open."""
        with self.lock.held(purpose):
            if self.path.exists():
                self._open_database().close()
            yield

    def _open_database(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        holder = Holder(None, "another process")

        def attempt() -> duckdb.DuckDBPyConnection | None:
            nonlocal holder
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                found = _CONFLICT.search(str(exc))
                if found is None:
                    raise self._unusable(exc) from None
                pid = int(found["pid"])
                holder = Holder(pid, process_command(pid) or found["command"], "has it open")
                return None

        return wait_for(
            attempt,
            lambda: holder,
            timeout=self.settings.lock_timeout_seconds,
            log=self.log,
            what=f"the warehouse {self.path}",
            fix="Close that connection (BI tools should open the read-only copy in "
            f"{self.settings.serving_dir}), or raise DUCKDB_LOCK_TIMEOUT_SECONDS.",
        )

    def _unusable(self, exc: duckdb.IOException) -> WarehouseError:
        if "not a valid DuckDB database file" in str(exc):
            return NotADatabase(
                f"{self.path} is not a DuckDB database: move it aside (a new warehouse is "
                "created in its place), or point DUCKDB_PATH at the warehouse file."
            )
        if "created with an newer version of DuckDB" in str(exc):
            return WarehouseError(
                f"{self.path} was written by a newer DuckDB than this project's {duckdb.__version__} "
                "(releases before the lake mode ran DuckDB 2.0). Put the BI copy in its place, which "
                "holds every table in a format this DuckDB reads: cp "
                f"{self.settings.serving_path} {self.path} (or move the file aside "
                "and run a full sync)."
            )
        return WarehouseError(f"cannot open the warehouse {self.path}: {exc}")

    def dlt_destination(self, conn: duckdb.DuckDBPyConnection) -> Destination:
        """Dlt's DuckDB destination on a connection this object opened (dlt does not close it)."""
        return dlt.destinations.duckdb(conn)

    def write_dbt_profile(self, folder: Path | None = None) -> Path:
        """Write the dbt profile of this warehouse (`profiles.yml`); returns its folder."""
        folder = folder or self.settings.work_dir / "dbt"
        folder.mkdir(parents=True, exist_ok=True)
        profile = {
            DBT_PROFILE: {
                "target": "warehouse",
                "outputs": {
                    "warehouse": {
                        "type": "duckdb",
                        "path": str(self.path),
                        "schema": "main",
                        "threads": 1,  # DuckDB has one writer
                        "settings": {
                            "memory_limit": self.settings.memory_limit,
                            # Lets DuckDB stream big tables instead of holding them in order.
                            "preserve_insertion_order": False,
                            "TimeZone": "UTC",
                        },
                    }
                },
            }
        }
        (folder / "profiles.yml").write_text(json.dumps(profile, indent=2) + "\n")
        return folder
