"""The lake mode beside the file: the demo build in both, and two ingestions at once.

Starts a PostgreSQL cluster of its own (Debian's server binaries, fsync on, as a team would run
it) for the lake's catalog, and two sandboxes in their own processes (demo scale, a high rate
limit so the API is not what is measured):
1. The demo build, once per mode: `intercom-pipeline demo` on a fresh warehouse (a DuckDB file,
   then a DuckLake with its data in a local folder), against a sandbox with no latency. Prints
   each step's seconds from the demo's own Timings line, side by side.
2. Two ingestions of the lake: `intercom-pipeline ingest conversations` and `ingest` of every
   other module, one after the other into a fresh lake, then both at once into another one,
   against a sandbox answering in 150 ms (Intercom's usual), as two run workers would. Prints
   each run's seconds, the wall time of both, and the rows each lake holds (they must agree).

    .venv/bin/python bench/lake.py [--keep DIR]

Needs `make setup` (the `lake` extra) and PostgreSQL's server binaries (`apt-get install
postgresql`). With --keep DIR the warehouses, lakes and logs stay in DIR.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from sandbox_process import start_sandbox

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from tests.postgres import PostgresCluster  # noqa: E402

CLI = str(Path(sys.executable).with_name("intercom-pipeline"))
TOKEN = "sandbox-token"
CONVERSATIONS = ["conversations"]
OTHERS = ["contacts", "companies", "admins", "teams", "tags", "articles", "tickets"]
COUNTED = ("conversations", "conversation_parts", "contacts", "companies", "tickets")


def run_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [CLI, *args],
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=PROJECT,
    )


def finish(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(map(str, process.args))} failed; see {log}")


def demo_timings(env: dict[str, str], log: Path) -> dict[str, float]:
    """`intercom-pipeline demo` in `env`; its Timings line as step -> seconds."""
    finish(run_cli(["demo"], env, log), log)
    line = next(x for x in log.read_text().splitlines() if x.startswith("Timings: "))
    return {m[1].strip(): float(m[2]) for m in re.finditer(r"([\w -]+?) ([\d.]+) s", line[9:])}


def lake_env(postgres: PostgresCluster, folder: Path, database: str) -> dict[str, str]:
    return {
        "WAREHOUSE": "ducklake",
        "DUCKLAKE_CATALOG": f"postgres:{postgres.create_database(database)}",
        "DUCKLAKE_DATA_PATH": str(folder / "lake"),
        "DUCKDB_PATH": str(folder / "intercom.duckdb"),
    }


def compare_builds(postgres: PostgresCluster, root: Path) -> None:
    sandbox, base, _ = start_sandbox("--scale", "demo", "--rate-limit", "1000000")
    try:
        common = {
            "INTERCOM_BASE_URL": base,
            "INTERCOM_ACCESS_TOKEN": TOKEN,
            "SURVEY_FEED_DIR": str(root / "feed"),  # empty: the demo reads no answers
        }
        (root / "feed").mkdir(exist_ok=True)
        file_env = {**common, "DUCKDB_PATH": str(root / "file" / "intercom.duckdb")}
        timings = {
            "file": demo_timings(file_env, root / "demo-file.log"),
            "lake": demo_timings(
                {**common, **lake_env(postgres, root / "lake", "demo")}, root / "demo-lake.log"
            ),
        }
    finally:
        sandbox.terminate()
    print("\nThe demo build (demo scale, no latency), seconds per step:")
    print(f"  {'step':<16}{'file':>9}{'lake':>9}{'lake/file':>11}")
    for step in timings["file"]:
        file_s, lake_s = timings["file"][step], timings["lake"].get(step, float("nan"))
        ratio = f"{lake_s / file_s:.2f}" if file_s >= 0.5 else ""
        print(f"  {step:<16}{file_s:>9.1f}{lake_s:>9.1f}{ratio:>11}")


def lake_rows(env: dict[str, str]) -> dict[str, int]:
    from intercom_pipeline.defs.resources import resources_from_environment

    lake = resources_from_environment(env, resolved=True)["warehouse"].get()
    with lake.read() as conn:
        return {t: _count(conn, t) for t in COUNTED}


def _count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(conn.execute(f"select count(*) from intercom_raw.{table}").fetchone()[0])  # type: ignore[index]


def compare_ingestions(postgres: PostgresCluster, root: Path) -> None:
    sandbox, base, _ = start_sandbox(
        "--scale", "demo", "--rate-limit", "1000000", "--latency-ms", "150"
    )
    common = {"INTERCOM_BASE_URL": base, "INTERCOM_ACCESS_TOKEN": TOKEN}
    seconds: dict[str, float] = {}
    try:
        env = {**common, **lake_env(postgres, root / "sequential", "sequential")}
        started = time.monotonic()
        for name, tables in (("conversations", CONVERSATIONS), ("others", OTHERS)):
            log = root / f"sequential-{name}.log"
            began = time.monotonic()
            finish(run_cli(["ingest", *tables], env, log), log)
            seconds[f"one after the other: {name}"] = time.monotonic() - began
        seconds["one after the other: both"] = time.monotonic() - started
        sequential_rows = lake_rows(env)

        env = {**common, **lake_env(postgres, root / "concurrent", "concurrent")}
        started = time.monotonic()
        runs = {
            name: (run_cli(["ingest", *tables], env, root / f"concurrent-{name}.log"), name)
            for name, tables in (("conversations", CONVERSATIONS), ("others", OTHERS))
        }
        while any(p.poll() is None for p, _ in runs.values()):
            for process, name in runs.values():
                if process.poll() is not None and f"at once: {name}" not in seconds:
                    seconds[f"at once: {name}"] = time.monotonic() - started
            time.sleep(0.1)
        for process, name in runs.values():
            seconds.setdefault(f"at once: {name}", time.monotonic() - started)
            finish(process, root / f"concurrent-{name}.log")
        seconds["at once: both"] = time.monotonic() - started
        concurrent_rows = lake_rows(env)
    finally:
        sandbox.terminate()
    print("\nTwo ingestions into the lake (demo scale, 150 ms latency), seconds:")
    for name, value in seconds.items():
        print(f"  {name:<34}{value:>8.1f}")
    ratio = seconds["at once: both"] / seconds["one after the other: both"]
    print(f"  at once / one after the other     {ratio:>8.2f}")
    print(f"  rows, one after the other: {sequential_rows}")
    print(f"  rows, at once:             {concurrent_rows}")
    if sequential_rows != concurrent_rows:
        raise SystemExit("the two lakes hold different rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep warehouses, lakes and logs here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-lake-"))
    root.mkdir(parents=True, exist_ok=True)
    postgres = PostgresCluster.start(fsync=True)
    try:
        compare_builds(postgres, root)
        compare_ingestions(postgres, root)
    finally:
        postgres.stop()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
