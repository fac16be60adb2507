"""The dashboard page: one self-contained HTML file (inline CSS and SVG, no script, no network).

Sections follow a support lead's questions: how satisfied are customers, what is left open,
who answers how fast, what the surveys say, how much the AI agent (Fin) takes on and resolves,
where surveys go, and whether the syncs run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

import duckdb

from intercom_pipeline.dashboard import queries
from intercom_pipeline.dashboard.charts import (
    Series,
    bar_chart,
    empty,
    format_value,
    line_chart,
    number,
    stacked_bar_chart,
)
from intercom_pipeline.dashboard.style import CSS

GOOD, BAD, NEUTRAL, RESPONSE = "#059669", "#dc2626", "#9ca3af", "#2563eb"
# Tile key -> (label, unit).
TILES = {
    "conversations": ("Conversations", ""),
    "resolved": ("Resolved", ""),
    "unresolved": ("Unresolved", ""),
    "satisfaction_rate": ("Satisfaction", "%"),
    "dissatisfaction_rate": ("Dissatisfaction", "%"),
    "response_rate": ("Response rate", "%"),
    "median_time_to_first_response_minutes": ("Median first response", "min"),
    "nps": ("NPS", ""),
    "csat_satisfied_rate": ("CSAT satisfied", "%"),
    "ces_mean": ("CES mean (1-7)", ""),
}


@dataclass(frozen=True)
class SurveyView:
    """How one survey metric is drawn: its score column and axis, its categories' layers."""

    score: str  # survey_scores' column for this metric
    label: str
    bounds: tuple[float, float]
    categories: tuple[tuple[str, str, str], ...]  # (survey_scores column, label, colour)


def _bands(positive: str, neutral: str, negative: str) -> tuple[tuple[str, str, str], ...]:
    """The three bands survey_scores counts for CSAT, CES and 5-STAR, named for one metric."""
    return (
        ("positive_responses", positive, GOOD),
        ("neutral_responses", neutral, NEUTRAL),
        ("negative_responses", negative, BAD),
    )


SURVEYS = {
    "NPS": SurveyView(
        "nps",
        "NPS (points)",
        (-100, 100),
        (
            ("promoters", "Promoters", GOOD),
            ("passives", "Passives", NEUTRAL),
            ("detractors", "Detractors", BAD),
        ),
    ),
    "CSAT": SurveyView(
        "csat_satisfied_rate",
        "CSAT % satisfied",
        (0, 100),
        _bands("Satisfied", "Neutral", "Unsatisfied"),
    ),
    "CES": SurveyView(
        "ces_mean",
        "CES mean (1-7)",
        (1, 7),
        _bands("Positive (5-7)", "Neutral (4)", "Negative (1-3)"),
    ),
}
# AI agent tile key (queries.AI_HEADLINES) -> (label, unit).
AI_TILES = {
    "ai_conversations": ("Conversations with Fin", ""),
    "involvement_rate": ("Fin took part (% of all)", "%"),
    "resolution_rate": ("Fin resolved (% answered)", "%"),
    "handoff_rate": ("Handed off (% answered)", "%"),
    "ai_csat": ("AI CSAT (% rated 4-5)", "%"),
    "teammate_csat": ("Teammates' CSAT (% rated 4-5)", "%"),
}
# How each resolution state is named on the page.
STATE_LABELS = {
    "confirmed_resolution": "Confirmed resolution",
    "assumed_resolution": "Assumed resolution",
    "escalated": "Escalated",
    "procedure_handoff": "Procedure hand-off",
    "negative_feedback": "Negative feedback",
    queries.NO_VERDICT: "No verdict",  # nothing answered, or nothing decided yet
}
AI, TEAMMATE, HANDOFF = "#7c3aed", "#2563eb", "#d97706"
NOTHING = "\N{EN DASH}"  # a figure with nothing to count yet
NO_SYNC_HISTORY = "No sync history yet: it appears after the first sync"
NO_AI_AGENT = "No AI agent data yet"


def column(rows: queries.Rows, key: str, value: str) -> dict[str, float | int | None]:
    """One column of the rows by their key column: what a `Series` plots."""
    return {
        str(r[key]): None if r[value] is None else float(r[value])  # type: ignore[arg-type]
        for r in rows
    }


def section(name: str, title: str, parts: Sequence[str], note: str = "", head: str = "") -> str:
    """A titled section: its note, what goes above its charts (tiles), its charts in a grid."""
    lead = f'<p class="lead">{escape(note)}</p>' if note else ""
    return (
        f'<section data-section="{escape(name)}"><h2>{escape(title)}</h2>{lead}{head}'
        f'<div class="grid">{"".join(parts)}</div></section>'
    )


def tiles(values: dict[str, object], labels: dict[str, tuple[str, str]] = TILES) -> str:
    """The all-time headline figures; a figure with nothing to count shows a dash."""
    cells = []
    for key, (label, unit) in labels.items():
        value = values[key]
        if value is None:
            shown, attributes = NOTHING, ""
        else:
            shown = format_value(value, unit)  # type: ignore[arg-type]
            attributes = f' data-value="{number(value)}"'  # type: ignore[arg-type]
        cells.append(
            f'<div class="tile" data-metric="{key}"{attributes}>'
            f'<span class="figure">{escape(shown)}</span>'
            f'<span class="caption">{escape(label)}</span></div>'
        )
    return f'<div class="tiles">{"".join(cells)}</div>'


def daily_rates_chart(
    key: str, title: str, daily: queries.Rows, lines: list[tuple[str, str, str]]
) -> str:
    """A line chart of percentages by day: one line per (column, label, color) of `daily`."""
    series = [
        Series(metric, label, column(daily, "day", metric), color) for metric, label, color in lines
    ]
    return line_chart(key, title, series, unit="%", bounds=(0, 100))


def satisfaction_section(daily: queries.Rows) -> str:
    """The daily rates of support_metrics_daily; response apart, as it sits far below the others."""
    satisfaction = daily_rates_chart(
        "satisfaction_rates",
        "Satisfaction and dissatisfaction by day of creation (% of rated)",
        daily,
        [
            ("satisfaction_rate", "Satisfaction (rated 4-5 / rated)", GOOD),
            ("dissatisfaction_rate", "Dissatisfaction (rated 1-2 / rated)", BAD),
        ],
    )
    response = daily_rates_chart(
        "response_rate",
        "Response rate by day of creation (% of conversations rated)",
        daily,
        [("response_rate", "Response (rated / conversations)", RESPONSE)],
    )
    return section("satisfaction", "Satisfaction & response", [satisfaction, response])


def resolution_section(conn: duckdb.DuckDBPyConnection, workspace: str, daily: queries.Rows) -> str:
    ages = queries.conversation_ages(conn, workspace)
    by_day = stacked_bar_chart(
        "resolution_daily",
        "Conversations by day of creation: resolved and unresolved now",
        [
            Series("resolved", "Resolved (closed)", column(daily, "day", "resolved"), GOOD),
            Series(
                "unresolved",
                "Unresolved (open or snoozed)",
                column(daily, "day", "unresolved"),
                BAD,
            ),
        ],
    )
    buckets = [label for label, _ in queries.AGE_BUCKETS]
    by_age = bar_chart(
        "conversation_age",
        "Conversation age: resolved at close, unresolved now",
        buckets,
        [
            Series("resolved", "Resolved", column(ages, "bucket", "resolved"), GOOD),
            Series("unresolved", "Unresolved", column(ages, "bucket", "unresolved"), BAD),
        ],
    )
    return section("resolution", "Resolution & age", [by_day, by_age])


def times_section(conn: duckdb.DuckDBPyConnection, workspace: str) -> str:
    """Medians by team and by teammate: first response and close, each on its own scale."""
    charts = []
    for by, who in (("team", "team"), ("admin", "teammate")):
        found = queries.performance(conn, workspace, by)
        names = [str(r["name"]) for r in found]
        for metric, what, color in (
            ("median_time_to_first_response_minutes", "first response", RESPONSE),
            ("median_time_to_last_close_minutes", "close", GOOD),
        ):
            values = column(found, "name", metric)
            charts.append(
                bar_chart(
                    f"{metric}_by_{by}",
                    f"Median time to {what} by {who} (minutes from creation)",
                    names,
                    [Series(metric, f"Median time to {what}", values, color)],
                    unit="min",
                )
            )
    note = (
        "Conversations count for their current assignee; "
        f"the {queries.TOP_ADMINS} busiest teammates."
    )
    return section("times", "Response & close times by team and teammate", charts, note)


def surveys_section(conn: duckdb.DuckDBPyConnection, workspace: str) -> str:
    """Per metric, its score by day and its answers by category (survey_scores)."""
    charts = []
    for metric, view in SURVEYS.items():
        daily = queries.survey_daily(conn, workspace, metric)
        score = [Series(view.score, view.label, column(daily, "day", view.score), RESPONSE)]
        charts.append(
            line_chart(
                f"{metric}_score", f"{view.label} by day of response", score, bounds=view.bounds
            )
        )
        layers = [
            Series(c, name, column(daily, "day", c), color) for c, name, color in view.categories
        ]
        charts.append(
            stacked_bar_chart(f"{metric}_categories", f"{metric} answers by category", layers)
        )
    return section("surveys", "Surveys: NPS, CSAT and CES", charts)


def ai_agent_section(conn: duckdb.DuckDBPyConnection, workspace: str) -> str:
    """What the AI agent (Fin) takes on, resolves and hands over, how it is rated, what it cites."""
    name, title = "ai_agent", "AI agent (Fin)"
    if not queries.ai_agent_available(conn):
        return section(name, title, [empty("ai_agent", "AI agent conversations", NO_AI_AGENT)])
    headline = queries.ai_headlines(conn, workspace)
    if not headline["ai_conversations"]:
        return section(name, title, [empty("ai_agent", "AI agent conversations")])
    parts = [
        *_ai_daily_charts(queries.ai_daily(conn, workspace)),
        *_ai_source_charts(_named(queries.ai_top_sources(conn, workspace))),
        _ai_states_chart(queries.ai_resolution_states(conn, workspace)),
        least_resolving(queries.ai_least_resolving_articles(conn, workspace)),
    ]
    note = (
        "Conversations by day of creation; rates of answered conversations are Intercom's "
        "verdict (resolved: confirmed or assumed; handed off: escalated or procedure hand-off)."
    )
    return section(name, title, parts, note, tiles(headline, AI_TILES))


def _ai_daily_charts(daily: queries.Rows) -> list[str]:
    """Involvement, resolution and hand-off rates; AI CSAT beside the teammates' (by day)."""
    rates = daily_rates_chart(
        "ai_rates",
        "Fin's involvement, resolution and hand-off by day of creation (%)",
        daily,
        [
            ("involvement_rate", "Took part (% of conversations)", AI),
            ("resolution_rate", "Resolved (% of answered)", GOOD),
            ("handoff_rate", "Handed off (% of answered)", HANDOFF),
        ],
    )
    csat = daily_rates_chart(
        "ai_csat",
        "AI CSAT beside teammates' CSAT by day of creation (% rated 4-5)",
        daily,
        [("ai_csat", "AI agent (Fin)", AI), ("teammate_csat", "Teammates", TEAMMATE)],
    )
    return [rates, csat]


def _ai_states_chart(rows: queries.Rows) -> str:
    """Fin's conversations by Intercom's resolution state (no verdict last)."""
    states = {str(r["state"]): r["conversations"] for r in rows}
    shown = [s for s in (*queries.RESOLUTION_STATES, queries.NO_VERDICT) if s in states]
    labels = {s: STATE_LABELS.get(s, s) for s in shown}
    counts = {labels[s]: float(states[s]) for s in shown}  # type: ignore[arg-type]
    return bar_chart(
        "ai_resolution_states",
        "Fin's conversations by resolution state",
        list(labels.values()),
        [Series("ai_conversations", "Conversations", counts, AI)],
    )


def _ai_source_charts(sources: queries.Rows) -> list[str]:
    """The sources Fin cites most, and how often the conversations citing each were resolved."""
    names = [str(r["name"]) for r in sources]
    cited = bar_chart(
        "ai_top_sources",
        f"Top {queries.TOP_SOURCES} content sources by Fin conversations answered",
        names,
        [Series("conversations", "Conversations", column(sources, "name", "conversations"), AI)],
    )
    resolved = Series(
        "resolution_rate",
        "Resolved (% of citing)",
        column(sources, "name", "resolution_rate"),
        GOOD,
    )
    resolving = bar_chart(
        "ai_top_sources_resolution",
        "Resolution rate of the conversations citing them (%)",
        names,
        [resolved],
        unit="%",
    )
    return [cited, resolving]


def _named(sources: queries.Rows) -> queries.Rows:
    """Sources whose name another shares are told apart by their type, else by their key."""
    for part in ("content_type", "content_key"):
        seen = [str(r["name"]) for r in sources]
        sources = [
            {**r, "name": f"{r['name']} ({r[part]})"} if seen.count(str(r["name"])) > 1 else r
            for r in sources
        ]
    return sources


def least_resolving(articles: queries.Rows) -> str:
    """The articles cited whose conversations Fin resolved least: a table, to read the titles."""
    if not articles:
        return empty("ai_least_resolving", "Articles Fin resolved least from")
    body = "".join(_article_row(r) for r in articles)
    return (
        '<figure class="table" data-chart="ai_least_resolving"><figcaption>Articles Fin '
        "resolved least from (all time)</figcaption><table><thead><tr><th>article</th>"
        "<th>conversations</th><th>resolved</th><th>handed off</th><th>AI CSAT</th>"
        f"<th>article id</th></tr></thead><tbody>{body}</tbody></table></figure>"
    )


def _article_row(r: dict[str, object]) -> str:
    """One cited article: its counts and rates as attributes (for a test) and as text."""
    rate = r["resolution_rate"]
    known = "" if rate is None else f' data-resolution-rate="{number(rate)}"'  # type: ignore[arg-type]
    return (
        f'<tr data-source="{escape(str(r["name"]))}" data-conversations="{r["conversations"]}"'
        f"{known}><td>{escape(str(r['name']))}</td>"
        f'<td class="number">{int(r["conversations"]):,}</td>'  # type: ignore[call-overload]
        f'<td class="number">{escape(_rate(rate))}</td>'
        f'<td class="number">{int(r["handed_off_conversations"]):,}</td>'  # type: ignore[call-overload]
        f'<td class="number">{escape(_rate(r["ai_csat"]))}</td>'
        f"<td>{escape(str(r['article_id'] or NOTHING))}</td></tr>"
    )


def _rate(value: object) -> str:
    """A percentage for people, a dash when there is nothing to divide."""
    return NOTHING if value is None else format_value(value, "%")  # type: ignore[arg-type]


def funnel_section(conn: duckdb.DuckDBPyConnection) -> str:
    sends = queries.survey_funnel(conn)
    metrics = [str(r["metric"]) for r in sends]
    sent = bar_chart(
        "survey_funnel",
        "Surveys sent and answered, by metric",
        metrics,
        [
            Series("sent", "Sent", column(sends, "metric", "sent"), RESPONSE),
            Series("answered", "Answered", column(sends, "metric", "answered"), GOOD),
        ],
    )
    held = queries.survey_suppressions(conn)
    reasons = [str(r["reason_code"]) for r in held]
    suppressed = bar_chart(
        "survey_suppressed",
        "Surveys on close not sent, by reason",
        reasons,
        [Series("suppressed", "Not sent", column(held, "reason_code", "requests"), NEUTRAL)],
    )
    return section("funnel", "Survey funnel", [sent, suppressed])


def sync_section(conn: duckdb.DuckDBPyConnection) -> str:
    history = queries.sync_history(conn)
    if history is None:
        return section(
            "sync", "Sync status & history", [empty("sync_daily", "Syncs by day", NO_SYNC_HISTORY)]
        )
    outcomes = {
        "success": ("Succeeded", GOOD),
        "failure": ("Failed", BAD),
        "canceled": ("Canceled", NEUTRAL),
    }
    daily = stacked_bar_chart(
        "sync_daily",
        "Syncs by day and outcome",
        [
            Series(outcome, label, column(history.per_day, "day", outcome), color)
            for outcome, (label, color) in outcomes.items()
        ],
    )
    return section("sync", "Sync status & history", [last_syncs(history), daily])


def last_syncs(history: queries.SyncHistory) -> str:
    """The last sync of each module (or table): a table, as a person reads statuses and times."""
    body = "".join(
        f'<tr data-module="{escape(str(r["module"]))}" data-status="{escape(str(r["status"]))}"'
        f' data-rows="{r["rows_loaded"] or 0}"><td>{escape(str(r["module"]))}</td>'
        f'<td class="status {escape(str(r["status"]))}">{escape(str(r["status"]))}</td>'
        f"<td>{escape(_when(r['ended_at'] or r['started_at']))}</td>"
        f'<td class="number">{int(r["rows_loaded"] or 0):,}</td>'  # type: ignore[call-overload]
        f"<td>{escape(str(r['failure_reason'] or ''))}</td></tr>"
        for r in history.last
    )
    return (
        f'<figure class="table" data-chart="sync_last"><figcaption>Last sync per {history.unit}'
        f"</figcaption><table><thead><tr><th>{history.unit}</th><th>status</th>"
        "<th>ended (UTC)</th><th>rows</th><th>failure</th></tr></thead>"
        f"<tbody>{body}</tbody></table></figure>"
    )


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else NOTHING


def workspace_sections(conn: duckdb.DuckDBPyConnection, workspace: str, several: bool) -> str:
    """The sections one workspace's marts hold, under its name when there are several."""
    heading = f"<h2 class='workspace'>Workspace {escape(workspace)}</h2>" if several else ""
    daily = queries.support_daily(conn, workspace)
    parts = (
        satisfaction_section(daily),
        resolution_section(conn, workspace, daily),
        times_section(conn, workspace),
        surveys_section(conn, workspace),
        ai_agent_section(conn, workspace),
    )
    return f'<div data-workspace="{escape(workspace)}">{heading}{"".join(parts)}</div>'


def render(conn: duckdb.DuckDBPyConnection, source: str) -> str:
    """The whole page from the marts `conn` reads; `source` names them for the reader."""
    found = queries.workspaces(conn)
    body = "".join(workspace_sections(conn, w, len(found) > 1) for w in found) or section(
        "support", "Support", [empty("support", "Conversations and surveys")]
    )
    newest = queries.as_of(conn)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Support dashboard</title><style>{CSS}</style></head><body>"
        "<header><h1>Support dashboard</h1>"
        f'<p class="meta">Built {stamp} from {escape(source)}; newest conversation update '
        f"{escape(_when(newest))} UTC. Days are UTC.</p></header>"
        f"<main>{tiles(queries.headlines(conn))}{body}{funnel_section(conn)}"
        f"{sync_section(conn)}</main></body></html>"
    )
