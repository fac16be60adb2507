"""The whole graph as a new user starts it, and the BI copy in the clients BI tools ship.

One materialization of every asset (`dagster asset materialize --select '*'`) on an instance
whose `dagster.yaml` is empty: no pools, so Dagster runs steps side by side and only the
warehouse's own lock keeps them apart. The tests below read what it built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.settings import PROJECT_ROOT
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.survey_feed import write_demo_survey_feed

BIN = Path(sys.executable).parent
NODE_CLIENT = PROJECT_ROOT / "tests" / "bi_clients"
# What analysts query: marts, staging views over the raw tables, raw tables, the survey feed.
QUERIED = (
    "analytics.conversations",
    "analytics.support_metrics_daily",
    "analytics.survey_responses",
    "analytics.contact_survey_profile",
    "staging.stg_intercom__contacts",
    "staging.stg_intercom__conversation_parts",
    "intercom_raw.conversations",
    "intercom_raw.conversation_parts",
    "survey_feed_raw.responses",
)


@dataclass(frozen=True)
class Built:
    warehouse: Path
    serving: Path
    run: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("whole_graph")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")  # an instance with no pools, no run limits
    sandbox = Sandbox(SandboxConfig(seed=2, scale="tiny"))
    write_demo_survey_feed(sandbox.workspace, root / "feed")
    with RunningSandbox(sandbox) as running:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
            "DUCKDB_PATH": str(root / "intercom.duckdb"),
            "DUCKDB_SERVING_DIR": str(root / "serving"),
            "SURVEY_FEED_DIR": str(root / "feed"),
            "SURVEY_WEBHOOK_SPOOL_DIR": str(root / "spool"),
        }
        run = subprocess.run(
            [
                *(str(BIN / "dagster"), "asset", "materialize"),
                *("-m", "intercom_pipeline.definitions", "--select", "*"),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        yield Built(root / "intercom.duckdb", root / "serving" / "intercom.duckdb", run)


def python_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in QUERIED}


def test_every_asset_materializes_on_an_instance_without_pools(built: Built) -> None:
    assert built.run.returncode == 0, built.run.stderr[-6000:]
    assert "RUN_SUCCESS" in built.run.stderr
    assert "Conflicting lock" not in built.run.stderr
    assert "STEP_FAILURE" not in built.run.stderr
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from analytics.conversations").fetchone() == (300,)


def test_the_bi_copy_answers_the_duckdb_cli_as_python_does(built: Built) -> None:
    expected = python_counts(built.serving)
    assert expected["analytics.conversations"] == 300
    assert all(expected[t] > 0 for t in QUERIED)
    version = subprocess.run(
        [str(BIN / "duckdb"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("v1.5.")
    sql = " union all ".join(f"select '{t}' as name, count(*) as n from {t}" for t in QUERIED)
    answered = subprocess.run(
        [str(BIN / "duckdb"), "-readonly", "-json", str(built.serving), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answered.returncode == 0, answered.stderr
    assert {r["name"]: r["n"] for r in json.loads(answered.stdout)} == expected


def test_the_bi_copy_answers_the_node_client_as_python_does(built: Built) -> None:
    if not (NODE_CLIENT / "node_modules" / "@duckdb" / "node-api").is_dir():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_CLIENT, check=True, timeout=600
        )
    answered = subprocess.run(
        ["node", "count_rows.mjs", str(built.serving), *QUERIED],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answered.returncode == 0, answered.stderr
    result = json.loads(answered.stdout)
    assert result["version"].startswith("v1.5.")
    assert result["counts"] == python_counts(built.serving)


def test_the_bi_copy_holds_what_analysts_query_and_not_dlt_staging(built: Built) -> None:
    with duckdb.connect(str(built.serving), read_only=True) as conn:
        schemas = {
            r[0] for r in conn.execute("select schema_name from duckdb_schemas()").fetchall()
        }
    assert {"analytics", "staging", "intercom_raw", "survey_feed_raw"} <= schemas
    assert not [s for s in schemas if s.endswith("_staging")]
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        main = {r[0] for r in conn.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert "intercom_raw_staging" in main  # dlt's, left out of the copy
