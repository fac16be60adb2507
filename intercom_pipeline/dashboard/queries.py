"""What the dashboard shows, read from the marts as they are: one query per figure.

Rates and medians are the marts' own columns, never recomputed; the only aggregation here is
counting (conversations by age, sends, syncs). The headline figures are the demo's
(`warehouse/metrics.py`), summed over days and workspaces with the marts' own rule; the AI
agent's all-time rates likewise sum ai_agent_metrics_daily's counts before dividing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from intercom_pipeline.warehouse.metrics import headline_metrics

# Tile key (data-metric) -> the demo's headline metric it shows.
HEADLINES = {
    "conversations": "conversations",
    "resolved": "resolved (closed)",
    "unresolved": "unresolved (open or snoozed)",
    "satisfaction_rate": "satisfaction rate % (rated 4-5 / rated)",
    "dissatisfaction_rate": "dissatisfaction rate % (rated 1-2 / rated)",
    "response_rate": "response rate % (rated / conversations)",
    "median_time_to_first_response_minutes": "median time to first response (minutes)",
    "nps": "NPS (% promoters - % detractors)",
    "csat_satisfied_rate": "CSAT % satisfied",
    "ces_mean": "CES mean (1-7)",
}
# Conversation age buckets, in days: (label, lower bound inclusive).
AGE_BUCKETS = (("< 1 day", 0), ("1-3 days", 1), ("3-7 days", 3), ("7-30 days", 7), ("30+ days", 30))
# The admins shown by name: the busiest (by conversations handled now).
TOP_ADMINS = 15
SYNC_HISTORY = ("ops", "sync_history")
SYNC_OUTCOMES = ("success", "failure", "canceled")
# The AI agent's marts: a BI copy older than them has none, and its page says so.
AI_AGENT_MARTS = (
    "ai_agent_metrics_daily",
    "ai_agent_conversations",
    "ai_agent_content_performance",
)
# AI agent tile key (ai_agent_metrics_daily's column) -> (numerator, denominator) counts summed
# over the workspace's days; a count alone when it has no denominator.
AI_HEADLINES = {
    "ai_conversations": ("ai_conversations", None),
    "involvement_rate": ("ai_conversations", "conversations"),
    "resolution_rate": ("ai_resolved_conversations", "ai_answered_conversations"),
    "handoff_rate": ("ai_handed_off_conversations", "ai_answered_conversations"),
    "ai_csat": ("ai_rated_positive", "ai_rated_conversations"),
    "teammate_csat": ("teammate_rated_positive", "teammate_rated_conversations"),
}
# ai_agent_conversations' resolution states, in the order drawn; null is NO_VERDICT.
RESOLUTION_STATES = (
    "confirmed_resolution",
    "assumed_resolution",
    "escalated",
    "procedure_handoff",
    "negative_feedback",
)
NO_VERDICT = "no verdict"
# The content sources shown: the most cited, and the articles resolving least.
TOP_SOURCES = 10

Rows = list[dict[str, object]]


def rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Rows:
    """The query's rows as column -> value dicts (DuckDB's decimals stay exact)."""
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def headlines(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The all-time figures of the tiles, by tile key (None: nothing to count yet)."""
    metrics = headline_metrics(conn)
    return {key: metrics[name] for key, name in HEADLINES.items()}


def workspaces(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The workspaces with conversations or survey answers, in a stable order."""
    found = rows(
        conn,
        "select workspace_id from analytics.support_metrics_daily union "
        "select workspace_id from analytics.survey_scores order by 1",
    )
    return [str(r["workspace_id"]) for r in found]


def support_daily(conn: duckdb.DuckDBPyConnection, workspace: str) -> Rows:
    """Rates and counts per day of creation (support_metrics_daily)."""
    return rows(
        conn,
        "select strftime(metric_date, '%Y-%m-%d') as day, conversations, resolved, unresolved,"
        " satisfaction_rate, dissatisfaction_rate, response_rate"
        " from analytics.support_metrics_daily where workspace_id = ? order by metric_date",
        [workspace],
    )


def conversation_ages(conn: duckdb.DuckDBPyConnection, workspace: str) -> Rows:
    """Conversations per age bucket, resolved (age at close) and unresolved (age now); 0 is null."""
    bucket = " ".join(
        f"when conversation_age_days >= {low} then '{label}'" for label, low in AGE_BUCKETS[::-1]
    )
    return rows(
        conn,
        f"select case {bucket} end as bucket,"
        " nullif(count(*) filter (where state = 'closed'), 0) as resolved,"
        " nullif(count(*) filter (where state <> 'closed'), 0) as unresolved"
        " from analytics.conversations where workspace_id = ? group by 1",
        [workspace],
    )


def performance(conn: duckdb.DuckDBPyConnection, workspace: str, by: str) -> Rows:
    """First-response and close medians per team or teammate with conversations, busiest first."""
    relation, name, limit = {
        "team": ("analytics.team_performance", "team_name", ""),
        "admin": ("analytics.admin_performance", "admin_name", f"limit {TOP_ADMINS}"),
    }[by]
    return rows(
        conn,
        f"select coalesce({name}, {by}_id) as name, conversations_handled,"
        " median_time_to_first_response_minutes, median_time_to_last_close_minutes"
        f" from {relation} where workspace_id = ? and conversations_handled > 0"
        f" order by conversations_handled desc, name {limit}",
        [workspace],
    )


def survey_daily(conn: duckdb.DuckDBPyConnection, workspace: str, metric: str) -> Rows:
    """One survey metric per day of response: its score and its categories (survey_scores)."""
    return rows(
        conn,
        "select strftime(response_date, '%Y-%m-%d') as day, responses, nps, csat_satisfied_rate,"
        " ces_mean, promoters, passives, detractors, positive_responses, neutral_responses,"
        " negative_responses from analytics.survey_scores"
        " where workspace_id = ? and metric = ? order by response_date",
        [workspace, metric],
    )


def survey_funnel(conn: duckdb.DuckDBPyConnection) -> Rows:
    """Surveys sent and answered, per metric (survey_sends), every workspace."""
    return rows(
        conn,
        "select metric, count(*) as sent, count(*) filter (where is_answered) as answered"
        " from analytics.survey_sends group by metric order by metric",
    )


def survey_suppressions(conn: duckdb.DuckDBPyConnection) -> Rows:
    """Surveys on close that were not sent, per reason (survey_request_summary)."""
    return rows(
        conn,
        "select reason_code, sum(requests) as requests from analytics.survey_request_summary"
        " where status = 'do_not_send' group by reason_code order by requests desc, reason_code",
    )


@dataclass(frozen=True)
class SyncHistory:
    """The last sync of each module (or table), and the syncs per day by outcome."""

    unit: str  # what a row of `last` is the last sync of: module, or table
    last: Rows
    per_day: Rows


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    """The relation's columns; empty when it does not exist."""
    found = rows(
        conn,
        "select column_name from information_schema.columns where table_catalog ="
        " current_database() and table_schema = ? and table_name = ?",
        [schema, table],
    )
    return {str(r["column_name"]) for r in found}


# The outcome of several rows: failed when any failed, else canceled when any was, else success.
_OUTCOME = (
    "case when bool_or(status = 'failure') then 'failure'"
    " when bool_or(status = 'canceled') then 'canceled' else 'success' end"
)


def _syncs(columns: set[str]) -> str:
    """One row per sync and module: it failed (or was canceled) when any of its tables did.

    A sync is a `sync_id` (else a Dagster run); the history names a `module` or else its tables.
    """
    sync = "sync_id" if "sync_id" in columns else "run_id"
    module = "module" if "module" in columns else "table_name"
    return f"""
        select {sync} as sync_id, {module} as module, min(started_at) as started_at,
            max(ended_at) as ended_at, sum(rows_loaded) as rows_loaded,
            {_OUTCOME} as status,
            string_agg(distinct failure_reason, '; ') as failure_reason
        from {".".join(SYNC_HISTORY)} group by all
    """


def sync_history(conn: duckdb.DuckDBPyConnection) -> SyncHistory | None:
    """The sync history, or None before the first sync recorded (the mart missing or empty)."""
    columns = _columns(conn, *SYNC_HISTORY)
    if not columns:
        return None
    syncs = _syncs(columns)
    last = rows(
        conn,
        f"select module, status, started_at, ended_at, rows_loaded, failure_reason from ({syncs})"
        " qualify row_number() over (partition by module order by started_at desc) = 1"
        " order by module",
    )
    per_day = rows(
        conn,
        "select strftime(started_at, '%Y-%m-%d') as day,"
        + ",".join(f" count(*) filter (where status = '{s}') as {s}" for s in SYNC_OUTCOMES)
        + " from (select sync_id, min(started_at) as started_at,"
        f" {_OUTCOME} as status from ({syncs}) group by sync_id) group by 1 order by 1",
    )
    unit = "module" if "module" in columns else "table"
    return SyncHistory(unit, last, per_day) if last else None


def ai_agent_available(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the copy has the AI agent's marts (a copy built before them has not)."""
    return all(_columns(conn, "analytics", mart) for mart in AI_AGENT_MARTS)


def ai_headlines(conn: duckdb.DuckDBPyConnection, workspace: str) -> dict[str, object]:
    """The workspace's all-time AI agent figures, by tile key: counts summed, then divided."""
    figures = ", ".join(
        f"sum({top}) as {key}"
        if bottom is None
        else f"round(sum({top}) * 100.0 / nullif(sum({bottom}), 0), 2) as {key}"
        for key, (top, bottom) in AI_HEADLINES.items()
    )
    found = rows(
        conn,
        f"select {figures} from analytics.ai_agent_metrics_daily where workspace_id = ?",
        [workspace],
    )
    return found[0]


def ai_daily(conn: duckdb.DuckDBPyConnection, workspace: str) -> Rows:
    """The AI agent's rates per day of creation (ai_agent_metrics_daily)."""
    return rows(
        conn,
        "select strftime(metric_date, '%Y-%m-%d') as day, ai_conversations, involvement_rate,"
        " resolution_rate, handoff_rate, ai_csat, teammate_csat"
        " from analytics.ai_agent_metrics_daily where workspace_id = ? order by metric_date",
        [workspace],
    )


def ai_resolution_states(conn: duckdb.DuckDBPyConnection, workspace: str) -> Rows:
    """AI conversations per resolution state (ai_agent_conversations); null is NO_VERDICT."""
    return rows(
        conn,
        f"select coalesce(resolution_state, '{NO_VERDICT}') as state, count(*) as conversations"
        " from analytics.ai_agent_conversations where workspace_id = ? group by 1",
        [workspace],
    )


def ai_top_sources(conn: duckdb.DuckDBPyConnection, workspace: str) -> Rows:
    """The content sources the AI agent answered from most, with how those conversations ended."""
    return rows(
        conn,
        "select coalesce(title, content_key) as name, content_type, content_key, conversations,"
        " resolution_rate"
        " from analytics.ai_agent_content_performance where workspace_id = ?"
        f" order by conversations desc, name, content_type limit {TOP_SOURCES}",
        [workspace],
    )


def ai_least_resolving_articles(conn: duckdb.DuckDBPyConnection, workspace: str) -> Rows:
    """The articles cited whose conversations the AI agent resolved least (lowest rate first)."""
    return rows(
        conn,
        "select coalesce(title, content_key) as name, url, article_id, conversations,"
        " resolved_conversations, resolution_rate, handed_off_conversations, ai_csat"
        " from analytics.ai_agent_content_performance"
        " where workspace_id = ? and content_type = 'article'"
        f" order by resolution_rate, conversations desc, name limit {TOP_SOURCES}",
        [workspace],
    )


def as_of(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest conversation update the marts know: how fresh the page's figures are."""
    found = rows(conn, "select max(updated_at) as newest from analytics.conversations")
    return found[0]["newest"]  # type: ignore[return-value]
