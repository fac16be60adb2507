"""The raw tables as dbt reads them, with real dbt on real DuckDB warehouses.

- Staging builds on raw tables that hold only the columns their loader guarantees: every
  column the raw table lacks is an optional one and reads as null.
- A misspelled required column stops the build, naming the table, the column and the fix.
- Right after a load, `dbt source freshness` passes and the raw tables' key tests pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import RAW_TABLES, connect
from intercom_pipeline.sources.intercom.settings import COLUMNS
from intercom_pipeline.sources.survey_feed import COLUMN_TYPES
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.load import run_ingestion
from intercom_pipeline.warehouse.transform import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_vars
from intercom_sandbox import RunningSandbox, Sandbox, SandboxConfig

DUCKDB_TYPES = {
    "text": "varchar",
    "bigint": "bigint",
    "bool": "boolean",
    "json": "json",
    "timestamp": "timestamptz",
}


def dbt(
    *args: str, warehouse: Path, project: Path = DBT_PROJECT_DIR
) -> subprocess.CompletedProcess[str]:
    """A dbt command on `warehouse`, its artifacts beside it (never in the project's target)."""
    work = warehouse.parent / "dbt"
    profiles = Warehouse.at(warehouse).write_dbt_profile(work / "profile")
    return subprocess.run(
        [
            str(DBT_EXECUTABLE),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(profiles),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            dbt_vars({"survey_match_by_email": False}),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def guaranteed_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse whose raw tables have only the guaranteed columns, and one row each in two.

    workspace_id and the declared `COLUMNS` of each Intercom table, the declared columns of
    the survey feed; no `TIMESTAMPS`, no `_dlt_load_id`, nothing Intercom may leave out.
    """
    warehouse = tmp_path_factory.mktemp("guaranteed") / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema intercom_raw")
        for table in RAW_TABLES:
            columns = {"workspace_id": "text"} | {
                name: hint["data_type"] for name, hint in COLUMNS.get(table, {}).items()
            }
            definitions = ", ".join(f'"{n}" {DUCKDB_TYPES[t]}' for n, t in columns.items())
            conn.execute(f"create table intercom_raw.{table} ({definitions})")
        conn.execute("create schema survey_feed_raw")
        definitions = ", ".join(f'"{n}" {DUCKDB_TYPES[t]}' for n, t in COLUMN_TYPES.items())
        conn.execute(f"create table survey_feed_raw.responses ({definitions})")
        conn.execute("insert into intercom_raw.admins (workspace_id, id) values ('w', '1')")
        conn.execute(
            "insert into intercom_raw.conversations (workspace_id, id, title, admin_assignee_id) "
            "values ('w', '7', 'Refund', 0)"
        )
    return warehouse


def test_staging_builds_on_the_guaranteed_columns_and_absent_optional_ones_are_null(
    guaranteed_only: Path,
) -> None:
    result = dbt("run", "--select", "path:models/staging", warehouse=guaranteed_only)
    assert result.returncode == 0, result.stdout + result.stderr
    with duckdb.connect(str(guaranteed_only), read_only=True) as conn:
        assert conn.execute(
            "select admin_id, admin_name, email, is_away from staging.stg_intercom__admins"
        ).fetchall() == [("1", None, None, None)]
        assert conn.execute(
            "select conversation_id, title, admin_assignee_id, state, priority, created_at, "
            "first_channel from staging.stg_intercom__conversations"
        ).fetchall() == [("7", "Refund", None, None, None, None, None)]
        # An absent optional column keeps its type: a typed null, not a bare one.
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'staging' and table_name = 'stg_intercom__conversations'"
            ).fetchall()
        )
    assert types["created_at"] == "TIMESTAMP"
    assert types["is_open"] == "BOOLEAN"


def test_a_misspelled_required_column_fails_the_build_naming_table_column_and_fix(
    guaranteed_only: Path, tmp_path: Path
) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "staging" / "intercom" / "stg_intercom__conversations.sql"
    correct = "['title', 'varchar'],"
    assert correct in model.read_text()
    model.write_text(model.read_text().replace(correct, "['titel', 'varchar', 'title'],"))

    result = dbt(
        "run",
        "--select",
        "stg_intercom__conversations",
        warehouse=guaranteed_only,
        project=project,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "Compilation Error in model stg_intercom__conversations" in output
    assert 'intercom_raw.conversations has no column "titel"' in output
    assert "COLUMNS in intercom_pipeline/sources/intercom/settings.py" in output
    assert "Fix: correct its name" in output
    assert "['titel', 'varchar', 'title', 'optional']" in output


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse right after a real load of the sandbox (every raw table)."""
    warehouse = tmp_path_factory.mktemp("loaded") / "warehouse.duckdb"
    with RunningSandbox(Sandbox(SandboxConfig(seed=7, scale="tiny"))) as running:
        settings = intercom_settings(
            {"INTERCOM_BASE_URL": running.base_url, "INTERCOM_ACCESS_TOKEN": "sandbox-token"}
        )
        workspaces = connect([settings], backoff_seconds=0.01, max_rate_limit_wait=11)
        run_ingestion(Warehouse.at(warehouse), workspaces)
    return warehouse


# Tables whose rows come only when something happens (a deletion, a pause, a teammate's action):
# their newest row says nothing about the sync.
WITHOUT_FRESHNESS = {
    "deletions",
    "conversation_handling_events",
    "conversation_content_sources",  # only where the AI agent answers
    "admin_activity_logs",
}


def test_right_after_a_load_every_raw_table_is_fresh_and_its_key_holds(loaded: Path) -> None:
    from intercom_pipeline.defs.schedules import SYNCS

    result = dbt("source", "freshness", "--select", "source:intercom", warehouse=loaded)
    assert result.returncode == 0, result.stdout + result.stderr
    target = loaded.parent / "dbt" / "target"
    statuses = {
        r["unique_id"].rsplit(".", 1)[-1]: r["status"]
        for r in json.loads((target / "sources.json").read_text())["results"]
    }
    assert statuses == dict.fromkeys(set(RAW_TABLES) - WITHOUT_FRESHNESS, "pass")

    # Each table warns past the default interval of the schedule that syncs it most often.
    hours = {"1h": 1, "daily": 26}
    expected: dict[str, int] = {}
    for sync in SYNCS:
        for table in sync.tables:
            expected[table] = min(expected.get(table, 99), hours[sync.default_interval])
    sources = json.loads((target / "manifest.json").read_text())["sources"]
    warn_after = {
        node["name"]: node["freshness"]["warn_after"]
        for node in sources.values()
        if node["source_name"] == "intercom" and node["freshness"]
    }
    assert warn_after == {
        table: {"count": count, "period": "hour"}
        for table, count in expected.items()
        if table not in WITHOUT_FRESHNESS
    }

    tests = dbt("test", "--select", "source:intercom", warehouse=loaded)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    results = json.loads((target / "run_results.json").read_text())["results"]
    tested = {r["unique_id"].split(".")[2] for r in results if r["status"] == "pass"}
    assert len(results) == len(RAW_TABLES)
    assert all(r["status"] == "pass" for r in results)
    assert any(t.startswith("source_primary_key_intercom_conversations") for t in tested)
