"""The dbt build per sandbox scale, full and after an hourly sync (targets: bench < 60 s, the
build after an hourly sync <= 10% of the full build's time).

For each scale: starts the sandbox (no latency, 1,000,000 calls/min so loading is quick), loads
every raw table into a fresh warehouse with the ingestion API, loads an empty survey feed (dbt
reads its table), then materializes the dbt assets through Dagster, as the product does, in a
process of its own: the full build, every model from scratch. Then an hour goes by in the
sandbox (its default activity: a busy hour, about 1% of the conversations new, replied and
closed each), the hourly sync loads it as its schedule does (the `intercom_conversations`
tables, contacts and companies of changed conversations only), and the dbt assets downstream of
those tables are materialized again, as the automation does: the incremental build. The build's
resources come from the environment (`DUCKDB_MEMORY_LIMIT`, when set, is passed on: set it to
512MB to reproduce the old out-of-memory failure). Prints one row per scale:
- each build's wall time (Dagster's `materialize` of the dbt assets), and the incremental one's
  ratio to the full one
- peak memory: of dbt (exact, the kernel's high-water mark of the dbt process) and of the build's
  process tree (Dagster's process plus dbt, their summed resident memory sampled every 0.1 s)
- the rows the hourly sync loaded, and those in analytics.conversations and
  analytics.feedback_documents after it
- the memory_limit in force (read from the dbt profile the warehouse wrote)

    .venv/bin/python bench/dbt_build.py [--scales tiny,demo,bench] [--keep DIR]

With --keep DIR the loaded warehouses stay in DIR/<scale>/, and a warehouse already loaded there
is reused; the builds and the sync run on a copy of it, DIR/<scale>/run/, so it stays as loaded.
Without it they go in a temporary folder, removed at the end. The builds' logs are
DIR/<scale>/run/full.log and incremental.log.
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
import requests
from sandbox_process import start_sandbox

TARGET_SECONDS = 60.0
TARGET_RATIO = 0.10  # the build after an hourly sync, to the full build
HOURLY_SYNC = "intercom_conversations"
MARTS = ("conversations", "feedback_documents")
DBT_SCHEMAS = ("staging", "analytics")  # what dbt builds (models, seeds), as generate_schema_name
RAW_COUNTS = {"conversations": "conversations", "parts": "conversation_parts"}


@dataclass
class Build:
    """What one dbt build measured (the build process writes it as JSON)."""

    success: bool
    seconds: float
    dbt_cpu_seconds: float
    dbt_peak_mb: float
    tree_peak_mb: float
    memory_limit: str
    rows: dict[str, int | None]
    failures: list[str]


@dataclass
class Scale:
    """One scale's figures: the full build, the hourly sync, the build after it."""

    scale: str
    full: Build
    synced_rows: int
    incremental: Build

    @property
    def ratio(self) -> float:
        return self.incremental.seconds / self.full.seconds


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
    sandbox, base = sandbox_at(scale, rate_limit)
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


def sandbox_at(scale: str, rate_limit: int) -> tuple[subprocess.Popen[bytes], str]:
    """The sandbox at `scale`: the same workspace, at the same clock, every time it starts."""
    sandbox, base, _ = start_sandbox(
        "--scale", scale, "--latency-ms", "0", "--rate-limit", str(rate_limit)
    )
    return sandbox, base


def workspaces_of(base_url: str) -> list[Any]:
    """The ingestion's workspaces, reading the sandbox at `base_url`."""
    from intercom_pipeline.settings import intercom_settings
    from intercom_pipeline.sources.intercom import connect

    settings = {"INTERCOM_BASE_URL": base_url, "INTERCOM_ACCESS_TOKEN": "sandbox-token"}
    return connect([intercom_settings(settings)])


def load(warehouse_path: Path, feed_dir: Path, base_url: str) -> dict[str, int]:
    """Every raw table from the sandbox at `base_url`, and the (empty) survey feed."""
    from intercom_pipeline.warehouse import Warehouse
    from intercom_pipeline.warehouse.load import run_ingestion
    from intercom_pipeline.warehouse.survey_feed import load_survey_feed

    warehouse = Warehouse.at(warehouse_path)
    result = run_ingestion(warehouse, workspaces_of(base_url))
    load_survey_feed(warehouse, feed_dir)
    return result.rows_loaded


def working_copy(loaded: Path) -> Path:
    """A copy of the loaded warehouse (and its survey feed) to build and sync in.

    The loaded one stays as loaded: every run starts from the same warehouse and syncs the same
    hour. The dlt state (the sync's cursors) lives in the warehouse itself.
    """
    folder = loaded.parent / "run"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(loaded.parent / "survey_feed", folder / "survey_feed")
    shutil.copy(loaded, folder / loaded.name)
    return folder / loaded.name


def hourly_sync(scale: str, warehouse_path: Path, rate_limit: int) -> int:
    """An hour of the sandbox's default activity, loaded as the hourly schedule loads it.

    Returns the rows loaded.
    """
    from intercom_pipeline.defs.schedules import SYNCS
    from intercom_pipeline.warehouse import Warehouse
    from intercom_pipeline.warehouse.load import run_ingestion

    sync = next(s for s in SYNCS if s.name == HOURLY_SYNC)
    sandbox, base = sandbox_at(scale, rate_limit)
    try:
        moved = requests.post(f"{base}/_sandbox/clock/advance", json={"seconds": 3600}, timeout=600)
        moved.raise_for_status()
        changed = {kind: len(ids) for kind, ids in moved.json()["changes"].items() if ids}
        print(f"[{scale}] an hour in the sandbox: {changed}; the hourly sync", flush=True)
        result = run_ingestion(
            Warehouse.at(warehouse_path), workspaces_of(base), list(sync.tables), **sync.op_config
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    rows = sum(result.rows_loaded.values())
    print(f"[{scale}] the hourly sync loaded {rows:,} rows in {result.seconds:.0f} s", flush=True)
    return rows


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


def build(scale: str, warehouse_path: Path, after_sync: bool = False) -> Build:
    """Materialize the dbt assets on `warehouse_path` in a process of its own, and measure it.

    The full build (every model from scratch), or `after_sync` the automation's build.
    """
    folder = warehouse_path.parent
    env = {
        **os.environ,
        "DUCKDB_PATH": str(warehouse_path),
        "DUCKDB_SERVING_DIR": str(folder / "serving"),
        "SURVEY_FEED_DIR": str(folder / "survey_feed"),
    }
    name = "incremental" if after_sync else "full"
    out, log = folder / f"{name}.json", folder / f"{name}.log"
    out.unlink(missing_ok=True)
    print(f"[{scale}] the {name} build of the dbt assets (log: {log})", flush=True)
    with log.open("w") as log_file:
        child = subprocess.Popen(
            [sys.executable, __file__, "--build-child", str(out)]
            + (["--after-sync"] if after_sync else []),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        with TreePeak(child.pid) as tree:
            child.wait()
    if not out.exists():
        raise SystemExit(f"the build process exited with {child.returncode}; see {log}")
    return Build(tree_peak_mb=tree.peak_mb, **json.loads(out.read_text()))


# --- the build process ------------------------------------------------------------------------


def build_child(out: Path, after_sync: bool) -> None:
    """In the build process: materialize the dbt assets as the product does; write the figures.

    The full build drops what an earlier build made first; the build after the sync selects
    what the automation selects (`automation_selection`).
    """
    import dagster as dg

    from intercom_pipeline.defs.resources import resources_from_environment
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    resources = resources_from_environment(resolved=True)
    assets = intercom_dbt_assets()  # parses the project when the manifest is stale
    if after_sync:
        selection = automation_selection(assets)
    else:
        drop_dbt_schemas(Path(resources["warehouse"].path))
        selection = dg.AssetSelection.all()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = dg.materialize(
        [assets],
        selection=selection,
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


def automation_selection(assets: Any) -> Any:
    """The dbt assets the automation rebuilds after the hourly sync: those downstream of it."""
    import dagster as dg

    from intercom_pipeline.definitions import defs
    from intercom_pipeline.defs.schedules import SYNCS

    synced = next(s for s in SYNCS if s.name == HOURLY_SYNC).selection()
    downstream = (synced.downstream() - synced).resolve(defs().resolve_asset_graph())
    return dg.AssetSelection.assets(*(downstream & assets.keys))


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


def report(scales: list[Scale]) -> None:
    """The table of figures (one row per scale), the memory budget and the targets."""
    builds = [b for s in scales for b in (s.full, s.incremental)]
    override = os.environ.get("DUCKDB_MEMORY_LIMIT", "").strip()
    limits = sorted({b.memory_limit for b in builds})
    source = f"DUCKDB_MEMORY_LIMIT={override}" if override else "default: half the machine"
    print(f"\nmemory_limit in force (dbt profile): {', '.join(limits)} ({source})")
    print("full: every model from scratch; incr.: the automation's build after the hourly sync")
    labels = [f"analytics.{m}" for m in MARTS] + [f"raw {k}" for k in RAW_COUNTS]
    header = (
        f"{'scale':<6} {'result':<7} {'full s':>7} {'dbt cpu s':>10} {'dbt peak MB':>12} "
        f"{'tree peak MB':>13} {'synced rows':>12} {'incr. s':>8} {'dbt peak MB':>12} "
        f"{'tree peak MB':>13} {'incr./full':>10}"
    )
    print(header + "".join(f" {label}" for label in labels))
    for s in scales:
        full, incremental = s.full, s.incremental
        counts = "".join(f" {_count(incremental.rows[label]):>{len(label)}}" for label in labels)
        result = "ok" if full.success and incremental.success else "FAILED"
        print(
            f"{s.scale:<6} {result:<7} {full.seconds:>7.1f} {full.dbt_cpu_seconds:>10.1f} "
            f"{full.dbt_peak_mb:>12,.0f} {full.tree_peak_mb:>13,.0f} {s.synced_rows:>12,} "
            f"{incremental.seconds:>8.1f} {incremental.dbt_peak_mb:>12,.0f} "
            f"{incremental.tree_peak_mb:>13,.0f} {s.ratio:>10.2f}{counts}"
        )
    for s in scales:
        for build_name, b in (("full", s.full), ("incremental", s.incremental)):
            for message in b.failures:
                print(f"\n[{s.scale}] {build_name} build, Dagster: {message}")
        if s.scale == "bench":
            succeeded = s.full.success and s.incremental.success
            held = s.full.seconds < TARGET_SECONDS
            print(
                f"\nbench full build: {s.full.seconds:.1f} s, target < {TARGET_SECONDS:.0f} s: "
                f"{'held' if held and succeeded else 'NOT held'}"
            )
            held = s.ratio <= TARGET_RATIO
            print(
                f"bench incremental build: {s.incremental.seconds:.1f} s, {s.ratio:.2f} of the "
                f"full build, target <= {TARGET_RATIO:.2f}: "
                f"{'held' if held and succeeded else 'NOT held'}"
            )


def _count(rows: int | None) -> str:
    return "-" if rows is None else f"{rows:,}"


def measure(scale: str, loaded: Path, rate_limit: int) -> Scale:
    """The full build, the hourly sync and the build after it, on a copy of `loaded`."""
    warehouse = working_copy(loaded)
    full = build(scale, warehouse)
    synced_rows = hourly_sync(scale, warehouse, rate_limit)
    return Scale(scale, full, synced_rows, build(scale, warehouse, after_sync=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="tiny,demo,bench", help="comma-separated")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the warehouses in this folder")
    parser.add_argument("--rate-limit", type=int, default=1_000_000, help="sandbox calls/min")
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--after-sync", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        build_child(args.build_child, args.after_sync)
        return 0
    dlt.config["runtime.log_level"] = "ERROR"
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="dbt-bench-"))
    try:
        names = [s.strip() for s in args.scales.split(",") if s.strip()]
        scales = [measure(s, prepare(s, root / s, args.rate_limit), args.rate_limit) for s in names]
        report(scales)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if all(s.full.success and s.incremental.success for s in scales) else 1


if __name__ == "__main__":
    sys.exit(main())
