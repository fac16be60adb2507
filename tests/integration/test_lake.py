"""The lake mode end to end, on a real PostgreSQL catalog (tests/postgres.py).

One module fixture materializes the whole graph twice on the same sandbox seed, once into a
DuckDB file and once into a DuckLake, and the tests compare them table by table. The other tests
load and read the lake from separate processes at once, as a team's run workers and BI tools do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import psycopg2
import pytest
import requests

from intercom_pipeline.warehouse import Lake
from intercom_pipeline.warehouse.fingerprint import fingerprints
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.server import Faults
from intercom_sandbox.survey_feed import write_demo_survey_feed
from tests.postgres import PostgresCluster

PROJECT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("intercom-pipeline"))


def lake_env(postgres: PostgresCluster, root: Path, database: str) -> dict[str, str]:
    return {
        "WAREHOUSE": "ducklake",
        "DUCKLAKE_CATALOG": f"postgres:{postgres.create_database(database)}",
        "DUCKLAKE_DATA_PATH": str(root / "lake"),
        "DUCKDB_PATH": str(root / "intercom.duckdb"),  # its working folder: dlt's and dbt's
    }


def lake_of(env: dict[str, str]) -> Lake:
    from intercom_pipeline.defs.resources import resources_from_environment

    lake = resources_from_environment(env, resolved=True)["warehouse"].get()
    assert isinstance(lake, Lake)
    return lake


def build_all(env: dict[str, str]) -> dg.ExecuteInProcessResult:
    from intercom_pipeline.definitions import defs

    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
        for key, value in env.items():
            patch.setenv(key, value)
        job = defs().resolve_job_def("intercom_build_all")
        return job.execute_in_process(instance=instance, raise_on_error=False)


@dataclass
class Builds:
    file: dg.ExecuteInProcessResult
    lake: dg.ExecuteInProcessResult
    file_path: Path
    lake_env: dict[str, str]
    catalog_url: str


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster) -> Builds:
    """The whole graph, built into a file and into a lake from two sandboxes of one seed."""
    root = tmp_path_factory.mktemp("lake_vs_file")
    results = {}
    for mode in ("duckdb", "ducklake"):
        sandbox = Sandbox(SandboxConfig(seed=3, scale="tiny"))
        write_demo_survey_feed(sandbox.workspace, root / mode / "feed")
        with RunningSandbox(sandbox) as running:
            env = {
                "DUCKDB_PATH": str(root / mode / "intercom.duckdb"),
                "DUCKDB_SERVING_DIR": str(root / mode / "serving"),
                "SURVEY_FEED_DIR": str(root / mode / "feed"),
                "INTERCOM_BASE_URL": running.base_url,
                "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
            }
            if mode == "ducklake":
                env.update(lake_env(postgres, root / mode, "lake_vs_file"))
            results[mode] = (build_all(env), env)
    return Builds(
        results["duckdb"][0],
        results["ducklake"][0],
        root / "duckdb" / "intercom.duckdb",
        results["ducklake"][1],
        postgres.url("lake_vs_file"),
    )


def test_the_whole_graph_materializes_in_the_lake(builds: Builds) -> None:
    assert builds.file.success and builds.lake.success
    # The same checks pass in both modes; the one that fails in both is the sandbox's conversation
    # over the API's 500-part limit, which the parts check reports as it should.
    outcomes = {
        mode: {
            (check.asset_key.to_user_string(), check.check_name): check.passed
            for check in result.get_asset_check_evaluations()
        }
        for mode, result in (("file", builds.file), ("lake", builds.lake))
    }
    assert len(outcomes["lake"]) >= 50 and outcomes["lake"] == outcomes["file"]
    failed = [name for name, passed in outcomes["lake"].items() if not passed]
    assert failed == [("intercom/conversation_parts", "conversation_parts_complete")]
    published = builds.lake.asset_materializations_for_node("bi_warehouse")[0].metadata
    assert published["lake_snapshot_id"].value > 0
    # The catalog is PostgreSQL's: the lake's tables are rows there, its data Parquet files.
    with psycopg2.connect(builds.catalog_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "select s.schema_name, count(*) from intercom.ducklake_table t join "
            "intercom.ducklake_schema s using (schema_id) where t.end_snapshot is null "
            "and s.end_snapshot is null group by 1 order by 1"
        )
        tables = dict(cursor.fetchall())
    assert tables["analytics"] >= 20 and tables["intercom_raw"] >= 20
    data = Path(builds.lake_env["DUCKLAKE_DATA_PATH"])
    assert len(list(data.rglob("*.parquet"))) >= tables["intercom_raw"]


def test_the_lake_holds_the_same_rows_as_the_file_table_by_table(builds: Builds) -> None:
    with duckdb.connect(str(builds.file_path), read_only=True) as conn:
        in_file = fingerprints(conn)
    with lake_of(builds.lake_env).read() as conn:
        in_lake = fingerprints(conn)
    assert sorted(in_lake) == sorted(in_file)
    marts = [name for name in in_file if name.startswith("analytics.")]
    assert len(marts) >= 20
    differ = {
        name: (in_file[name], in_lake[name]) for name in in_file if in_file[name] != in_lake[name]
    }
    assert differ == {}
    assert in_lake["analytics.conversations"]["rows"] > 0


def lake_import(file: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "lake-import", str(file)],
        env=env,
        capture_output=True,
        text=True,
        cwd=file.parent,
        check=False,
    )


def test_a_warehouse_file_moves_into_a_new_lake_whole(
    builds: Builds, postgres: PostgresCluster, tmp_path: Path
) -> None:
    env = {**lake_env(postgres, tmp_path, "imported"), "HOME": os.environ["HOME"]}
    copy = tmp_path / "intercom.duckdb"  # the file mode's warehouse, as a user's would be
    copy.write_bytes(builds.file_path.read_bytes())
    imported = lake_import(copy, env)
    assert imported.returncode == 0, imported.stderr
    assert "analytics" in imported.stdout and "intercom_raw" in imported.stdout
    with duckdb.connect(str(copy), read_only=True) as conn:
        in_file = fingerprints(conn)
    with lake_of(env).read() as conn:
        in_lake = fingerprints(conn)
        states = conn.execute("select count(*) from intercom_raw._dlt_pipeline_state").fetchone()
    assert in_lake == in_file
    assert states[0] > 0  # dlt's state came along: the next sync goes on incrementally
    again = lake_import(copy, env)
    assert again.returncode == 2 and "holds tables already" in again.stderr


# Two ingestions at once: one loads the conversations' family, the other contacts and the rest.
CONVERSATIONS = ["conversations"]
OTHERS = ["contacts", "companies", "admins", "teams", "tags", "articles", "tickets"]


def ingest_process(env: dict[str, str], tables: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [CLI, "ingest", *tables],
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=PROJECT,
    )


@pytest.fixture
def slow_sandbox() -> Iterator[RunningSandbox]:
    """Latency keeps each ingestion running a few seconds, so the two overlap."""
    with RunningSandbox(
        Sandbox(SandboxConfig(seed=4, scale="tiny", faults=Faults(latency_ms=40)))
    ) as running:
        yield running


def test_two_processes_load_other_tables_into_the_lake_at_once(
    tmp_path: Path, postgres: PostgresCluster, slow_sandbox: RunningSandbox
) -> None:
    env = {
        **lake_env(postgres, tmp_path, "two_writers"),
        "INTERCOM_BASE_URL": slow_sandbox.base_url,
        "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
    }
    first = ingest_process(env, CONVERSATIONS, tmp_path / "first.log")
    second = ingest_process(env, OTHERS, tmp_path / "second.log")
    started = time.monotonic()
    running_together = 0
    while first.poll() is None or second.poll() is None:
        running_together += first.poll() is None and second.poll() is None
        time.sleep(0.1)
    logs = (tmp_path / "first.log").read_text() + (tmp_path / "second.log").read_text()
    assert (first.returncode, second.returncode) == (0, 0), logs
    assert running_together * 0.1 >= 2, f"they did not overlap ({time.monotonic() - started} s)"
    workspace = slow_sandbox.sandbox.workspace
    with lake_of(env).read() as conn:
        counts = dict(
            conn.execute(
                "select 'conversations', count(*) from intercom_raw.conversations union all "
                "select 'conversation_parts', count(*) from intercom_raw.conversation_parts "
                "union all select 'contacts', count(*) from intercom_raw.contacts union all "
                "select 'tickets', count(*) from intercom_raw.tickets"
            ).fetchall()
        )
        loads = conn.execute(
            "select count(*) from intercom_raw._dlt_loads where status = 0"
        ).fetchone()[0]
    assert counts["conversations"] == len(workspace.conversations)
    assert counts["conversation_parts"] > counts["conversations"]
    assert counts["contacts"] == len(workspace.visible_contacts())
    assert counts["tickets"] == len(workspace.tickets)
    assert loads == 2


READER = textwrap.dedent(
    """
    import json, sys, time
    import duckdb
    statements, ready, release = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    conn = duckdb.connect()
    for statement in statements:
        conn.execute(statement)
    query = "select count(*), count(distinct state) from analytics.conversations"
    conn.execute("begin transaction")
    before = conn.execute(query).fetchone()
    open(ready, "w").close()
    seen = []
    while not __import__("os").path.exists(release):
        seen.append(conn.execute(query).fetchone())
        time.sleep(0.2)
    during = conn.execute(query).fetchone()
    conn.execute("commit")
    after = conn.execute(query).fetchone()
    print(json.dumps({"before": before, "seen": seen, "during": during, "after": after}))
    """
)


def test_a_reader_holds_the_lake_through_a_build_and_sees_one_snapshot(
    builds: Builds, tmp_path: Path
) -> None:
    """A reader in another process keeps one transaction open while an hour's activity loads
    and every model rebuilds: it sees the snapshot it started with, and nobody waits."""
    lake = lake_of(builds.lake_env)
    ready, release = tmp_path / "ready", tmp_path / "release"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, json.dumps(lake.session_statements(read_only=True)),
         str(ready), str(release)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    while not ready.exists():
        assert reader.poll() is None, "the reader ended before it read"
        time.sleep(0.1)
    with RunningSandbox(Sandbox(SandboxConfig(seed=3, scale="tiny"))) as running:
        requests.post(
            f"{running.base_url}/_sandbox/clock/advance",
            json={"seconds": 3600, "activity": {"new_conversations": 12, "closes": 4}},
            timeout=60,
        ).raise_for_status()
        result = build_all({**builds.lake_env, "INTERCOM_BASE_URL": running.base_url})
    release.touch()
    seen = json.loads(reader.communicate(timeout=120)[0])
    assert result.success
    assert result.asset_materializations_for_node("intercom_dbt")
    assert len(seen["seen"]) >= 5 and all(row == seen["before"] for row in seen["seen"])
    assert seen["during"] == seen["before"]
    assert seen["after"][0] == seen["before"][0] + 12
