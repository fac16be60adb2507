"""The dbt build per sandbox scale, with the product's default settings (target: bench < 60 s).

For each scale: starts the sandbox (no latency, 1,000,000 calls/min so loading is quick), loads
every raw table into a fresh warehouse with the ingestion API, loads an empty survey feed (dbt
reads its table), then materializes the dbt assets through Dagster, as the product does, in a
process of its own. The build's resources come from the environment (`DUCKDB_MEMORY_LIMIT`, when
set, is passed on: set it to 512MB to reproduce the old out-of-memory failure). Prints per scale:
- the build's wall time (Dagster's `materialize` of the dbt assets)
- peak memory: of dbt (exact, the kernel's high-water mark of the dbt process) and of the build's
  process tree (Dagster's process plus dbt, their summed resident memory sampled every 0.1 s)
- the rows in analytics.conversations and analytics.feedback_documents
- the memory_limit in force (read from the dbt profile the warehouse wrote)

    .venv/bin/python bench/dbt_build.py [--scales tiny,demo,bench] [--keep DIR]

With --keep DIR the warehouses stay in DIR/<scale>/, and a warehouse already loaded there is
reused: what an earlier build made is dropped and only the build runs again. Without it they go
in a temporary folder, removed at the end. The build's log is DIR/<scale>/build.log.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from sandbox_process import start_sandbox

TARGET_SECONDS = 60.0
MARTS = ("conversations", "feedback_documents")
DBT_SCHEMAS = ("staging", "analytics")  # what dbt builds (models, seeds), as generate_schema_name
RAW_COUNTS = {"conversations": "conversations", "parts": "conversation_parts"}


@dataclass
class Build:
    """What one dbt build measured (the build process writes it as JSON)."""

    scale: str
    success: bool
    seconds: float
    dbt_cpu_seconds: float
    dbt_peak_mb: float
    tree_peak_mb: float
    memory_limit: str
    rows: dict[str, int | None]
    failures: list[str]


# --- preparing a warehouse ------------------------------------------------------------------


def prepare(scale: str, folder: Path, rate_limit: int) -> Path:
    """A warehouse loaded from the sandbox at `scale`, in `folder` (reused when loaded already)."""
    warehouse_path = folder / "intercom.duckdb"
    marker = folder / "loaded.json"
    if marker.exists() and warehouse_path.exists():
        print(f"[{scale}] reusing the warehouse loaded in {folder}", flush=True)
        return warehouse_path
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "survey_feed").mkdir()
    started = time.monotonic()
    sandbox, base, _ = start_sandbox(
        "--scale", scale, "--latency-ms", "0", "--rate-limit", str(rate_limit)
    )
    try:
        print(f"[{scale}] sandbox ready in {time.monotonic() - started:.0f} s; loading", flush=True)
        rows = load(warehouse_path, folder / "survey_feed", base)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    seconds = time.monotonic() - started
    marker.write_text(json.dumps({"seconds": seconds, "rows": rows}, indent=2))
    print(f"[{scale}] loaded {sum(rows.values()):,} rows in {seconds:.0f} s", flush=True)
    return warehouse_path


def load(warehouse_path: Path, feed_dir: Path, base_url: str) -> dict[str, int]:
    """Every raw table from the sandbox at `base_url`, and the (empty) survey feed."""
    from intercom_pipeline.settings import intercom_settings
    from intercom_pipeline.sources.intercom import connect
    from intercom_pipeline.warehouse import Warehouse
    from intercom_pipeline.warehouse.load import run_ingestion
    from intercom_pipeline.warehouse.survey_feed import load_survey_feed

    warehouse = Warehouse.at(warehouse_path)
    workspaces = connect(
        [
            intercom_settings(
                {"INTERCOM_BASE_URL": base_url, "INTERCOM_ACCESS_TOKEN": "sandbox-token"}
            )
        ]
    )
    result = run_ingestion(warehouse, workspaces)
    load_survey_feed(warehouse, feed_dir)
    return result.rows_loaded


# --- measuring a build ------------------------------------------------------------------------


class TreePeak:
    """The peak of a process tree's summed resident memory, sampled every 0.1 s (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            total_kb = sum(_status_kb(pid, "VmRSS") for pid in _tree(self.pid))
            self.peak_mb = max(self.peak_mb, total_kb / 1024)


def _tree(root: int) -> list[int]:
    """`root` and its descendants, from the parent of every process in /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command may hold spaces and parentheses: the parent follows the last ")".
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a kernel thread


def build(scale: str, warehouse_path: Path) -> Build:
    """Materialize the dbt assets on `warehouse_path` in a process of its own, and measure it."""
    folder = warehouse_path.parent
    env = {
        **os.environ,
        "DUCKDB_PATH": str(warehouse_path),
        "DUCKDB_SERVING_DIR": str(folder / "serving"),
        "SURVEY_FEED_DIR": str(folder / "survey_feed"),
    }
    out, log = folder / "build.json", folder / "build.log"
    out.unlink(missing_ok=True)
    print(f"[{scale}] building the dbt assets (log: {log})", flush=True)
    with log.open("w") as log_file:
        child = subprocess.Popen(
            [sys.executable, __file__, "--build-child", str(out)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        with TreePeak(child.pid) as tree:
            child.wait()
    if not out.exists():
        raise SystemExit(f"the build process exited with {child.returncode}; see {log}")
    return Build(scale=scale, tree_peak_mb=tree.peak_mb, **json.loads(out.read_text()))


# --- the build process ------------------------------------------------------------------------


def build_child(out: Path) -> None:
    """In the build process: materialize the dbt assets as the product does; write the figures."""
    import dagster as dg

    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    resources = resources_from_environment(resolved=True)
    drop_dbt_schemas(Path(resources["warehouse"].path))
    assets = intercom_dbt_assets()  # parses the project when the manifest is stale
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = dg.materialize(
        [assets],
        resources={name: resources[name] for name in ("warehouse", "survey_feed")},
        raise_on_error=False,
    )
    seconds = time.monotonic() - started
    dbt = resource.getrusage(resource.RUSAGE_CHILDREN)  # dbt's: this process has no others
    store = resources["warehouse"].get()
    profile = json.loads((store.write_dbt_profile() / "profiles.yml").read_text())
    target = next(iter(profile.values()))["outputs"]["warehouse"]
    figures = {
        "success": result.success,
        "seconds": seconds,
        # During `materialize` (with the `dbt parse` it runs when another profile parsed last).
        "dbt_cpu_seconds": dbt.ru_utime + dbt.ru_stime - before.ru_utime - before.ru_stime,
        "dbt_peak_mb": dbt.ru_maxrss / 1024,  # the largest child: `dbt build`
        "memory_limit": target["settings"]["memory_limit"],
        "rows": count_rows(store.path),
        "failures": failures(result),
    }
    out.write_text(json.dumps(figures, indent=2))


def drop_dbt_schemas(warehouse_path: Path) -> None:
    """Make each build a first build: a reused warehouse loses what an earlier build made."""
    import duckdb

    with duckdb.connect(str(warehouse_path)) as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")


def failures(result: Any) -> list[str]:
    """The message of every failed step, as Dagster shows it."""
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            messages.append(error.message.strip() if error else "(no error recorded)")
    return messages


def count_rows(warehouse_path: Path) -> dict[str, int | None]:
    """Rows of the marts measured and of the raw conversations (None: the table is missing)."""
    import duckdb

    tables = {f"analytics.{m}": f"analytics.{m}" for m in MARTS}
    tables |= {f"raw {k}": f"intercom_raw.{t}" for k, t in RAW_COUNTS.items()}
    rows: dict[str, int | None] = {}
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        for label, table in tables.items():
            try:
                rows[label] = conn.execute(f"select count(*) from {table}").fetchone()[0]
            except duckdb.CatalogException:
                rows[label] = None
    return rows


# --- report -----------------------------------------------------------------------------------


def report(builds: list[Build]) -> None:
    """The table of figures, the memory budget and the target."""
    override = os.environ.get("DUCKDB_MEMORY_LIMIT", "").strip()
    limits = sorted({b.memory_limit for b in builds})
    source = f"DUCKDB_MEMORY_LIMIT={override}" if override else "default: half the machine"
    print(f"\nmemory_limit in force (dbt profile): {', '.join(limits)} ({source})")
    labels = [f"analytics.{m}" for m in MARTS] + [f"raw {k}" for k in RAW_COUNTS]
    header = (
        f"{'scale':<6} {'result':<7} {'build s':>8} {'dbt cpu s':>10} {'dbt peak MB':>12} "
        f"{'tree peak MB':>13}"
    )
    print(header + "".join(f" {label}" for label in labels))
    for b in builds:
        counts = "".join(
            f" {'-' if b.rows[label] is None else f'{b.rows[label]:,}':>{len(label)}}"
            for label in labels
        )
        print(
            f"{b.scale:<6} {'ok' if b.success else 'FAILED':<7} {b.seconds:>8.1f} "
            f"{b.dbt_cpu_seconds:>10.1f} {b.dbt_peak_mb:>12,.0f} {b.tree_peak_mb:>13,.0f}{counts}"
        )
    for b in builds:
        for message in b.failures:
            print(f"\n[{b.scale}] Dagster: {message}")
        if b.scale == "bench":
            verdict = "held" if b.seconds < TARGET_SECONDS else "NOT held"
            print(
                f"\nbench build: {b.seconds:.1f} s, target < {TARGET_SECONDS:.0f} s: "
                f"{verdict if b.success else 'NOT held (the build failed)'}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="tiny,demo,bench", help="comma-separated")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the warehouses in this folder")
    parser.add_argument("--rate-limit", type=int, default=1_000_000, help="sandbox calls/min")
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        build_child(args.build_child)
        return 0
    dlt.config["runtime.log_level"] = "ERROR"
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="dbt-bench-"))
    try:
        scales = [s.strip() for s in args.scales.split(",") if s.strip()]
        builds = [build(s, prepare(s, root / s, args.rate_limit)) for s in scales]
        report(builds)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if all(b.success for b in builds) else 1


if __name__ == "__main__":
    sys.exit(main())
