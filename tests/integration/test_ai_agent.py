"""The AI agent (Fin) from the API to the marts: a load of the sandbox keeps every `ai_agent`
field typed and every content source as a row, and the marts' figures equal the ones computed
here from the sandbox's API answers."""

from __future__ import annotations

import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.load import run_ingestion
from intercom_pipeline.warehouse.transform import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_vars
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from tests.conftest import SandboxClient
from tests.sandbox.helpers import walk_cursor_list

RESOLVED = {"assumed_resolution", "confirmed_resolution"}
HANDED_OFF = {"escalated", "procedure_handoff"}


@dataclass
class Loaded:
    warehouse: Path
    conversations: list[dict[str, Any]]  # GET /conversations, every page
    details: dict[str, dict[str, Any]]  # GET /conversations/{id} of the AI conversations
    articles: list[dict[str, Any]]  # GET /articles, every page
    workspace_id: str

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return conn.execute(sql).fetchall()


def dbt(*args: str, warehouse: Path) -> subprocess.CompletedProcess[str]:
    """A dbt command on `warehouse`, its artifacts beside it (never in the project's target)."""
    work = warehouse.parent / "dbt"
    profiles = Warehouse.at(warehouse).write_dbt_profile(work / "profile")
    return subprocess.run(
        [
            str(DBT_EXECUTABLE),
            *args,
            *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(profiles)),
            *("--target-path", str(work / "target"), "--log-path", str(work / "logs")),
            *("--vars", dbt_vars({"survey_match_by_email": False})),
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The conversations and articles of a tiny sandbox, loaded; the AI agent marts built."""
    warehouse = tmp_path_factory.mktemp("ai_agent") / "warehouse.duckdb"
    with RunningSandbox(Sandbox(SandboxConfig(seed=3, scale="tiny"))) as running:
        settings = intercom_settings(
            {"INTERCOM_BASE_URL": running.base_url, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN}
        )
        workspaces = connect([settings], backoff_seconds=0.01, max_rate_limit_wait=11)
        run_ingestion(Warehouse.at(warehouse), workspaces, ["conversations", "articles"])
        client = SandboxClient(running)
        conversations, _ = walk_cursor_list(client, "/conversations", "conversations", 150)
        details = {
            c["id"]: client.get(f"/conversations/{c['id']}").json()
            for c in conversations
            if c["ai_agent_participated"]
        }
        articles = [a for page in _pages(client, "/articles") for a in page]
        workspace_id = running.sandbox.workspace.app_id
    built = dbt(
        "build",
        "--select",
        "+ai_agent_metrics_daily",
        "+ai_agent_content_performance",
        warehouse=warehouse,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    yield Loaded(warehouse, conversations, details, articles, workspace_id)


def _pages(client: SandboxClient, path: str) -> Iterator[list[dict[str, Any]]]:
    page = 1
    while True:
        body = client.get(path, params={"page": page, "per_page": 50}).json()
        yield body["data"]
        if not body["pages"].get("next"):
            return
        page += 1


def rate(numerator: int, denominator: int) -> float | None:
    """macros/metrics.sql `rate`: x 100 / y, two decimals (half up), null for a zero y."""
    if not denominator:
        return None
    value = Decimal(numerator * 100) / Decimal(denominator)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def day(unix: int) -> date:
    return datetime.fromtimestamp(unix, UTC).date()


def test_every_ai_agent_field_is_typed_on_conversations(loaded: Loaded) -> None:
    stored = {
        row[0]: row[1:]
        for row in loaded.query(
            "select id, ai_agent_source_type, ai_agent_source_title, ai_agent_last_answer_type, "
            "ai_agent_resolution_state, ai_agent_rating, ai_agent_rating_remark, "
            "epoch(ai_agent_rated_at)::bigint, json_extract(ai_agent, '$.content_sources.total_count')::bigint "
            "from intercom_raw.conversations"
        )
    }
    expected = {}
    for c in loaded.conversations:
        agent = c.get("ai_agent") or {}
        sources = agent.get("content_sources")
        expected[c["id"]] = (
            agent.get("source_type"),
            agent.get("source_title"),
            agent.get("last_answer_type"),
            agent.get("resolution_state"),
            agent.get("rating"),
            agent.get("rating_remark"),
            agent.get("created_at"),
            None if sources is None else sources["total_count"],
        )
    assert stored == expected
    assert any(v[0] is not None for v in expected.values())


def test_every_content_source_is_a_link_row(loaded: Loaded) -> None:
    stored = sorted(
        loaded.query(
            "select conversation_id, position, content_type, title, url, locale "
            "from intercom_raw.conversation_content_sources"
        )
    )
    expected = sorted(
        (c["id"], position, s["content_type"], s["title"], s["url"], s["locale"])
        for c in loaded.conversations
        for position, s in enumerate(
            ((c.get("ai_agent") or {}).get("content_sources") or {}).get("content_sources", [])
        )
    )
    assert stored == expected and expected


def test_each_ai_conversation_and_its_teammate_takeover(loaded: Loaded) -> None:
    """First AI answer: the first is_ai_answer part, else the AI agent's first comment; the
    teammate took over at the first admin comment at or after it."""
    expected = {}
    for conversation_id, detail in loaded.details.items():
        parts = detail["conversation_parts"]["conversation_parts"]
        answers = [p["created_at"] for p in parts if p["author"]["is_ai_answer"]]
        messages = [
            p["created_at"]
            for p in parts
            if p["author"]["from_ai_agent"] and p["part_type"] == "comment"
        ]
        answered_at = min(answers or messages)
        responses = [
            p["created_at"]
            for p in parts
            if p["author"]["type"] == "admin"
            and p["part_type"] == "comment"
            and p["created_at"] >= answered_at
        ]
        agent = detail["ai_agent"]
        minutes = None if not responses else round((min(responses) - answered_at) / 60, 2)
        expected[conversation_id] = (
            agent["resolution_state"],
            agent["resolution_state"] in RESOLVED,
            agent["resolution_state"] in HANDED_OFF,
            bool(responses),
            minutes,
            agent["rating"],
            (detail["conversation_rating"] or {}).get("rating"),
            agent["content_sources"]["total_count"],
        )
    stored = {
        row[0]: (*row[1:5], None if row[5] is None else float(row[5]), *row[6:])
        for row in loaded.query(
            "select conversation_id, resolution_state, is_resolved, is_handed_off, "
            "has_teammate_taken_over, minutes_to_teammate_response, ai_rating, teammate_rating, "
            "count_content_sources from analytics.ai_agent_conversations"
        )
    }
    assert stored == expected
    assert any(v[3] for v in expected.values()) and any(not v[3] for v in expected.values())


def test_daily_metrics_equal_the_api_recomputed(loaded: Loaded) -> None:
    days: dict[date, Counter] = defaultdict(Counter)
    for c in loaded.conversations:
        counts = days[day(c["created_at"])]
        counts["conversations"] += 1
        teammate = (c.get("conversation_rating") or {}).get("rating")
        counts["teammate_rated"] += teammate is not None
        counts["teammate_positive"] += teammate is not None and teammate >= 4
        if not c["ai_agent_participated"]:
            continue
        agent = c["ai_agent"]
        counts["ai"] += 1
        counts["answered"] += agent["last_answer_type"] is not None
        counts["resolved"] += agent["resolution_state"] in RESOLVED
        counts["confirmed"] += agent["resolution_state"] == "confirmed_resolution"
        counts["handed_off"] += agent["resolution_state"] in HANDED_OFF
        counts["ai_rated"] += agent["rating"] is not None
        counts["ai_positive"] += agent["rating"] is not None and agent["rating"] >= 4
    expected = {
        (loaded.workspace_id, d): (
            k["conversations"],
            k["ai"],
            rate(k["ai"], k["conversations"]),
            rate(k["resolved"], k["answered"]),
            rate(k["confirmed"], k["resolved"]),
            rate(k["handed_off"], k["answered"]),
            rate(k["ai_positive"], k["ai_rated"]),
            rate(k["teammate_positive"], k["teammate_rated"]),
        )
        for d, k in days.items()
    }
    rows = loaded.query(
        "select workspace_id, metric_date, conversations, ai_conversations, involvement_rate, "
        "resolution_rate, confirmed_share, handoff_rate, ai_csat, teammate_csat "
        "from analytics.ai_agent_metrics_daily"
    )
    stored = {
        (r[0], r[1]): (r[2], r[3], *(None if v is None else float(v) for v in r[4:])) for r in rows
    }
    assert stored == expected


def test_content_performance_counts_per_source_and_links_articles_by_url(loaded: Loaded) -> None:
    article_by_url = {a["url"]: a["id"] for a in loaded.articles if a["url"]}
    cited: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for c in loaded.conversations:
        agent = c.get("ai_agent") or {}
        sources = (agent.get("content_sources") or {}).get("content_sources", [])
        for key in {(s["content_type"], s["url"]) for s in sources}:
            cited[key]["conversations"] += 1
            cited[key]["resolved"] += agent["resolution_state"] in RESOLVED
            cited[key]["handed_off"] += agent["resolution_state"] in HANDED_OFF
    expected = {
        key: (
            k["conversations"],
            k["resolved"],
            rate(k["resolved"], k["conversations"]),
            k["handed_off"],
            article_by_url.get(key[1]) if key[0] == "article" else None,
        )
        for key, k in cited.items()
    }
    rows = loaded.query(
        "select content_type, content_key, conversations, resolved_conversations, "
        "resolution_rate, handed_off_conversations, article_id, article_matched_by "
        "from analytics.ai_agent_content_performance"
    )
    stored = {
        (r[0], r[1]): (r[2], r[3], None if r[4] is None else float(r[4]), r[5], r[6]) for r in rows
    }
    assert stored == expected
    matched = Counter(r[7] for r in rows if r[0] == "article")
    assert matched == {"url": sum(1 for key in cited if key[0] == "article")}


def test_a_conversation_read_again_replaces_its_content_sources(tmp_path: Path) -> None:
    """One loses its sources (its ai_agent gone), one cites others: the link rows follow."""
    warehouse = tmp_path / "warehouse.duckdb"
    sandbox = Sandbox(SandboxConfig(seed=3, scale="tiny"))
    ws = sandbox.workspace
    cited = [c for c in ws.conversations if c.ai_agent and len(c.ai_agent.content_sources) > 1]
    emptied, changed = cited[0], cited[1]
    with RunningSandbox(sandbox) as running:
        settings = intercom_settings(
            {"INTERCOM_BASE_URL": running.base_url, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN}
        )
        workspaces = connect([settings], backoff_seconds=0.01, max_rate_limit_wait=11)
        run_ingestion(Warehouse.at(warehouse), workspaces, ["conversations"])
        with ws.lock:
            emptied.ai_agent = None
            emptied.ai_agent_participated = False
            assert changed.ai_agent is not None
            changed.ai_agent.content_sources = changed.ai_agent.content_sources[-1:]
            for conversation in (emptied, changed):
                conversation.touch(ws.now)
            ws.changed()
        run_ingestion(Warehouse.at(warehouse), workspaces, ["conversations"])
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select conversation_id, position, url from intercom_raw.conversation_content_sources "
            "where conversation_id in (?, ?) order by all",
            [emptied.id, changed.id],
        ).fetchall()
        typed = conn.execute(
            "select ai_agent_resolution_state from intercom_raw.conversations where id = ?",
            [emptied.id],
        ).fetchall()
    assert rows == [(changed.id, 0, changed.ai_agent.content_sources[0].url)]
    assert typed == [(None,)]
