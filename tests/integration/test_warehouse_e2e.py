"""The whole graph as a new user starts it, the BI copy in the clients BI tools ship, and the
support dashboard in a real browser.

One materialization of every asset (`dagster asset materialize --select '*'`) on an instance
whose `dagster.yaml` is empty: no pools, so Dagster runs steps side by side and only the
warehouse's own lock keeps them apart. The tests below read what it built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from intercom_pipeline.dashboard import build_dashboard
from intercom_pipeline.dashboard.page import NO_AI_AGENT, NO_SYNC_HISTORY, STATE_LABELS
from intercom_pipeline.dashboard.queries import AI_AGENT_MARTS, HEADLINES, NO_VERDICT, TOP_SOURCES
from intercom_pipeline.settings import PROJECT_ROOT
from intercom_pipeline.warehouse.metrics import headline_metrics
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


# Debian's chromium and its driver (.ci/run installs them where they are missing).
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@dataclass(frozen=True)
class Built:
    warehouse: Path
    serving: Path
    run: subprocess.CompletedProcess[str]

    @property
    def dashboard(self) -> Path:
        return self.serving.parent / "dashboard" / "index.html"


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


# ---------- the support dashboard, in a real browser


def _browser() -> webdriver.Chrome:
    """Headless chromium that keeps every console message."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


@dataclass(frozen=True)
class Shown:
    """What the page showed: its console, and each figure by (chart, metric, key) -> value.

    `tiles` are the page's headline tiles, `section_tiles` those of a section, by section name.
    """

    console: list[dict[str, object]]
    figures: dict[tuple[str, str, str], float]
    tiles: dict[str, float]
    syncs: dict[str, str]
    text: str
    section_tiles: dict[str, dict[str, float]]
    articles: dict[str, tuple[float, float | None]]  # least resolving: conversations, rate

    def chart(self, name: str, *metrics: str) -> dict[tuple[str, str], float]:
        """(metric, key) -> value of one chart's figures of these metrics."""
        return {(m, k): v for (c, m, k), v in self.figures.items() if c == name and m in metrics}


# Read in the browser, from the DOM: the page itself has no script.
_READ = """
const all = (selector) => Array.from(document.querySelectorAll(selector));
return {
  figures: all('svg [data-value]').map((e) => [
    e.closest('figure').dataset.chart, e.dataset.metric, e.dataset.key, e.dataset.value]),
  tiles: all('.tile[data-value]').map((e) => [
    (e.closest('[data-section]') || {dataset: {}}).dataset.section || '',
    e.dataset.metric, e.dataset.value]),
  syncs: all('tr[data-module]').map((e) => [e.dataset.module, e.dataset.status]),
  articles: all('tr[data-source]').map((e) => [
    e.dataset.source, e.dataset.conversations, e.dataset.resolutionRate ?? null]),
};
"""


def _read_page(page: Path) -> Shown:
    browser = _browser()
    try:
        browser.get(page.as_uri())
        found = browser.execute_script(_READ)
        text = browser.find_element(By.TAG_NAME, "body").text
        console = browser.get_log("browser")
    finally:
        browser.quit()
    section_tiles: dict[str, dict[str, float]] = {}
    for section, metric, value in found["tiles"]:
        if section:
            section_tiles.setdefault(section, {})[metric] = float(value)
    return Shown(
        console,
        {(c, m, k): float(v) for c, m, k, v in found["figures"]},
        {m: float(v) for s, m, v in found["tiles"] if not s},
        dict(found["syncs"]),
        text,
        section_tiles,
        {s: (float(n), None if r is None else float(r)) for s, n, r in found["articles"]},
    )


@pytest.fixture(scope="module")
def shown(built: Built) -> Shown:
    assert built.dashboard.is_file(), built.run.stderr[-3000:]
    return _read_page(built.dashboard)


def _by_key(conn: duckdb.DuckDBPyConnection, sql: str) -> dict[tuple[str, str], float]:
    """(metric, key) -> value from rows of (metric, key, value), nulls left out as the page does."""
    return {(m, str(k)): float(v) for m, k, v in conn.execute(sql).fetchall() if v is not None}


def test_the_dashboard_opens_offline_with_no_console_error(built: Built, shown: Shown) -> None:
    html = built.dashboard.read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "nothing loads from a network"
    assert [e for e in shown.console if e["level"] == "SEVERE"] == []
    assert "nan" not in shown.text.lower()
    assert "Support dashboard" in shown.text


def test_the_dashboard_shows_the_marts_rates_and_counts_per_day(built: Built, shown: Shown) -> None:
    metrics = ("satisfaction_rate", "dissatisfaction_rate", "response_rate")
    with duckdb.connect(str(built.serving), read_only=True) as conn:
        rates = _by_key(
            conn,
            " union all ".join(
                f"select '{m}', strftime(metric_date, '%Y-%m-%d'), {m} "
                "from analytics.support_metrics_daily"
                for m in metrics
            ),
        )
        counts = _by_key(
            conn,
            " union all ".join(
                f"select '{m}', strftime(metric_date, '%Y-%m-%d'), nullif({m}, 0) "
                "from analytics.support_metrics_daily"
                for m in ("resolved", "unresolved")
            ),
        )
        nps = _by_key(
            conn,
            "select 'nps', strftime(response_date, '%Y-%m-%d'), nps from analytics.survey_scores "
            "where metric = 'NPS'",
        )
        headlines = headline_metrics(conn)
    assert len(rates) > 30
    assert (
        shown.chart("satisfaction_rates", *metrics[:2]) | shown.chart("response_rate", metrics[2])
        == rates
    )
    assert shown.chart("resolution_daily", "resolved", "unresolved") == counts
    assert shown.chart("NPS_score", "nps") == nps
    assert shown.tiles == {
        key: float(headlines[name])  # type: ignore[arg-type]
        for key, name in HEADLINES.items()
        if headlines[name] is not None
    }
    assert shown.tiles["conversations"] == 300


def test_the_dashboard_shows_the_marts_times_funnel_and_syncs(built: Built, shown: Shown) -> None:
    metric = "median_time_to_first_response_minutes"
    with duckdb.connect(str(built.serving), read_only=True) as conn:
        by_team = _by_key(
            conn,
            f"select '{metric}', team_name, {metric} from analytics.team_performance "
            "where conversations_handled > 0",
        )
        funnel = _by_key(
            conn,
            "select 'sent', metric, count(*) from analytics.survey_sends group by all union all "
            "select 'answered', metric, count(*) filter (where is_answered) "
            "from analytics.survey_sends group by all",
        )
        history = _last_sync_statuses(conn)
    assert by_team and shown.chart(f"{metric}_by_team", metric) == by_team
    assert funnel and shown.chart("survey_funnel", "sent", "answered") == funnel
    if history is None:
        assert NO_SYNC_HISTORY in shown.text
    else:
        assert shown.syncs == history


AI_RATES = ("involvement_rate", "resolution_rate", "handoff_rate", "ai_csat", "teammate_csat")


def test_the_dashboard_shows_the_ai_agents_marts(built: Built, shown: Shown) -> None:
    """The AI agent section's rates, states, sources and tiles are the AI marts' own."""
    daily = "analytics.ai_agent_metrics_daily"
    with duckdb.connect(str(built.serving), read_only=True) as conn:
        ai_conversations = conn.execute("select count(*) from analytics.ai_agent_conversations")
        assert ai_conversations.fetchone()[0] > 0, "the tiny sandbox has AI agent conversations"
        rates = {
            metric: _by_key(
                conn,
                f"select '{metric}', strftime(metric_date, '%Y-%m-%d'), {metric} from {daily}",
            )
            for metric in AI_RATES
        }
        states = _by_key(
            conn,
            f"select 'ai_conversations', coalesce(resolution_state, '{NO_VERDICT}'), count(*) "
            "from analytics.ai_agent_conversations group by all",
        )
        top = conn.execute(
            "select coalesce(title, content_key), conversations, resolution_rate "
            "from analytics.ai_agent_content_performance "
            f"order by conversations desc, 1, content_type limit {TOP_SOURCES}"
        ).fetchall()
        articles = conn.execute(
            "select coalesce(title, content_key), conversations, resolution_rate "
            "from analytics.ai_agent_content_performance where content_type = 'article' "
            f"order by resolution_rate, conversations desc, 1 limit {TOP_SOURCES}"
        ).fetchall()
        sums = conn.execute(
            "select sum(ai_conversations), sum(conversations), sum(ai_resolved_conversations),"
            " sum(ai_handed_off_conversations), sum(ai_answered_conversations),"
            " sum(ai_rated_positive), sum(ai_rated_conversations),"
            f" sum(teammate_rated_positive), sum(teammate_rated_conversations) from {daily}"
        ).fetchone()
    assert len(rates["involvement_rate"]) > 30 and rates["resolution_rate"]
    assert shown.chart("ai_rates", "involvement_rate", "resolution_rate", "handoff_rate") == (
        rates["involvement_rate"] | rates["resolution_rate"] | rates["handoff_rate"]
    )
    assert shown.chart("ai_csat", "ai_csat", "teammate_csat") == (
        rates["ai_csat"] | rates["teammate_csat"]
    )
    assert shown.chart("ai_resolution_states", "ai_conversations") == {
        (m, STATE_LABELS[state]): n for (m, state), n in states.items()
    }
    assert top and shown.chart("ai_top_sources", "conversations") == {
        ("conversations", name): n for name, n, _ in top
    }
    assert shown.chart("ai_top_sources_resolution", "resolution_rate") == {
        ("resolution_rate", name): float(rate) for name, _, rate in top
    }
    assert shown.articles == {
        name: (n, None if rate is None else float(rate)) for name, n, rate in articles
    }
    ai, total, resolved, handed_off, answered, positive, rated, team_positive, team_rated = sums

    def rate(top: int, bottom: int) -> object:
        """The mart's rule over all days: two decimals (DuckDB rounds a half away from 0)."""
        return pytest.approx(top * 100 / bottom, abs=0.005 + 1e-9)

    assert shown.section_tiles["ai_agent"] == {
        "ai_conversations": ai,
        "involvement_rate": rate(ai, total),
        "resolution_rate": rate(resolved, answered),
        "handoff_rate": rate(handed_off, answered),
        **({"ai_csat": rate(positive, rated)} if rated else {}),
        **({"teammate_csat": rate(team_positive, team_rated)} if team_rated else {}),
    }
    assert NO_AI_AGENT not in shown.text


def test_a_bi_copy_without_the_ai_marts_says_no_ai_agent_data_yet(
    built: Built, tmp_path: Path
) -> None:
    """A BI copy built before the AI agent's marts: the page says so, the rest is as before."""
    older = tmp_path / "older.duckdb"
    shutil.copy(built.serving, older)
    with duckdb.connect(str(older)) as conn:
        for mart in AI_AGENT_MARTS:
            kind = conn.execute(
                "select table_type from information_schema.tables "
                "where table_schema = 'analytics' and table_name = ?",
                [mart],
            ).fetchone()[0]
            conn.execute(f"drop {'view' if kind == 'VIEW' else 'table'} analytics.{mart}")
    shown = _read_page(build_dashboard(older, tmp_path).path)
    assert [e for e in shown.console if e["level"] == "SEVERE"] == []
    assert NO_AI_AGENT in shown.text
    assert "ai_agent" not in shown.section_tiles
    assert not [f for f in shown.figures if f[0].startswith("ai_")]
    assert shown.chart("resolution_daily", "resolved")  # the other sections as before


def _last_sync_statuses(conn: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    """Module (or table) -> the outcome of its latest sync, straight from ops.sync_history.

    None when there is no history yet (no table, or no row).
    """
    columns = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ops' and table_name = 'sync_history'"
        ).fetchall()
    }
    if not columns:
        return None
    module = "module" if "module" in columns else "table_name"
    sync = "sync_id" if "sync_id" in columns else "run_id"
    rows = conn.execute(
        f"select {module}, {sync}, min(started_at), list(status) from ops.sync_history "
        "group by all order by 3"
    ).fetchall()
    latest = {name: statuses for name, _, _, statuses in rows}  # the last sync wins
    outcomes = {
        name: next((s for s in ("failure", "canceled") if s in statuses), "success")
        for name, statuses in latest.items()
    }
    return outcomes or None


def _empty_copy(built: Built, path: Path, *schemas: str) -> Path:
    """A warehouse holding every table of these schemas of the built copy, with no row."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"attach '{built.serving}' as built (read_only)")
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'built' and list_contains(?, table_schema) "
            "and table_type = 'BASE TABLE'",
            [list(schemas)],
        ).fetchall()
        for schema, table in tables:
            conn.execute(f"create schema if not exists {schema}")
            conn.execute(f"create table {schema}.{table} as from built.{schema}.{table} limit 0")
    return path


def test_the_dashboard_of_empty_marts_says_no_data_yet(built: Built, tmp_path: Path) -> None:
    """A new workspace: every mart there, with no row, and no sync history yet."""
    page = build_dashboard(_empty_copy(built, tmp_path / "new.duckdb", "analytics"), tmp_path)
    assert page.charts == 0
    shown = _read_page(page.path)
    assert [e for e in shown.console if e["level"] == "SEVERE"] == []
    assert shown.figures == {} and shown.tiles == {}
    assert "No data yet" in shown.text and NO_SYNC_HISTORY in shown.text
    assert "nan" not in shown.text.lower() and "None" not in shown.text


def test_the_dashboard_shows_the_last_sync_of_each_table(built: Built, tmp_path: Path) -> None:
    """Three syncs of two tables; the last one's contacts failed."""
    warehouse = _empty_copy(built, tmp_path / "synced.duckdb", "analytics", "ops")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "insert into ops.sync_history by name select 'run-' || run as run_id, "
            "name as table_name, 'intercom_conversations_job' as job_name, "
            "'schedule' as run_kind, if(run = 2 and name = 'contacts', 'failure', 'success') "
            "as status, if(status = 'failure', '401: <token> revoked', null) as failure_reason, "
            "timestamp '2026-11-01 00:00' + to_hours(12 * run) as started_at, "
            "started_at + interval 5 minute as ended_at, 10 * run as rows_loaded "
            "from range(3) runs(run), (values ('conversations'), ('contacts')) tables(name)"
        )
        expected = _last_sync_statuses(conn)
    assert expected == {"conversations": "success", "contacts": "failure"}
    shown = _read_page(build_dashboard(warehouse, tmp_path).path)
    assert [e for e in shown.console if e["level"] == "SEVERE"] == []
    assert shown.syncs == expected
    assert "401: <token> revoked" in shown.text
    assert shown.chart("sync_daily", "success", "failure", "canceled") == {
        ("success", "2026-11-01"): 2,
        ("failure", "2026-11-02"): 1,
    }
