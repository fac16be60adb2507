"""The support lead's dashboard: one static HTML page built from the published marts.

Plain Python, no Dagster (`defs/dashboard.py` is the asset). The page is read from what
readers see (the BI copy, or the lake attached read-only) and written beside the copy, in
`<DUCKDB_SERVING_DIR>/dashboard/index.html`, replaced in one rename so a reader never opens a
half-written page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from intercom_pipeline.dashboard.page import render
from intercom_pipeline.warehouse import Warehouse

PAGE = "index.html"


@dataclass(frozen=True)
class Dashboard:
    path: Path
    charts: int  # SVG charts drawn (a chart with no data yet shows a note instead)


def build_dashboard(source: duckdb.DuckDBPyConnection | Path, out_dir: Path) -> Dashboard:
    """Render the page from the marts `source` holds (a connection, or a file opened read-only)."""
    if isinstance(source, Path):
        with duckdb.connect(str(source), read_only=True) as conn:
            return _write(render(conn, f"the marts in {source}"), out_dir)
    return _write(render(source, "the marts"), out_dir)


def publish_dashboard(warehouse: Warehouse) -> Dashboard:
    """The page of what the warehouse's readers see, in its serving folder."""
    with warehouse.read() as conn:
        html = render(conn, _source(warehouse))
    return _write(html, warehouse.settings.serving_path.parent / "dashboard")


def _source(warehouse: Warehouse) -> str:
    if warehouse.settings.lake is not None:
        return f"the {warehouse.describe()} (read-only)"
    return f"the BI copy {warehouse.settings.serving_path}"


def _write(html: str, out_dir: Path) -> Dashboard:
    """Write the page whole, then rename it over the old one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / PAGE
    partial = out_dir / f".{PAGE}.{os.getpid()}.partial"
    try:
        partial.write_text(html, encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Dashboard(target, html.count("<svg "))
