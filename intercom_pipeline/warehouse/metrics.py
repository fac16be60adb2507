"""The headline numbers of the marts, for the demo.

All-time figures read from the marts' own counts (support_metrics_daily, survey_scores, ...),
summed over days and workspaces, so they cannot drift from what the marts say. A rate sums its
numerator and denominator first (never an average of daily rates), with the `rate` macro's
rule: two decimals, null when the denominator is zero.
"""

from __future__ import annotations

import duckdb


def _rate(numerator: str, denominator: str) -> str:
    """SQL for sum(numerator) x 100 / sum(denominator), two decimals; null when it is zero."""
    return f"round(sum({numerator}) * 100.0 / nullif(sum({denominator}), 0), 2)"


_SUPPORT = "analytics.support_metrics_daily"
_NPS = "analytics.survey_scores where metric = 'NPS'"

# Name -> (expression, relation it reads).
_METRICS: dict[str, tuple[str, str]] = {
    "conversations": ("sum(conversations)", _SUPPORT),
    "resolved (closed)": ("sum(resolved)", _SUPPORT),
    "unresolved (open or snoozed)": ("sum(unresolved)", _SUPPORT),
    "satisfaction rate % (rated 4-5 / rated)": (
        _rate("rated_positive", "rated_conversations"),
        _SUPPORT,
    ),
    "dissatisfaction rate % (rated 1-2 / rated)": (
        _rate("rated_negative", "rated_conversations"),
        _SUPPORT,
    ),
    "response rate % (rated / conversations)": (
        _rate("rated_conversations", "conversations"),
        _SUPPORT,
    ),
    "conversation-to-ticket rate %": (_rate("tickets", "conversations"), _SUPPORT),
    "median time to first response (minutes)": (
        "round(median(time_to_first_response_minutes), 2)",
        "analytics.conversations",
    ),
    "feedback documents": ("count(*)", "analytics.feedback_documents"),
    "survey responses": ("sum(responses)", "analytics.survey_scores"),
    "NPS (% promoters - % detractors)": (_rate("promoters - detractors", "responses"), _NPS),
    "CSAT % satisfied": (
        _rate("positive_responses", "responses"),
        "analytics.survey_scores where metric = 'CSAT'",
    ),
    "CES mean (1-7)": (
        "round(sum(sum_score) / nullif(sum(responses), 0), 2)",
        "analytics.survey_scores where metric = 'CES'",
    ),
    "survey answers in quarantine": ("count(*)", "analytics.survey_response_quarantine"),
    "contacts with a survey profile": ("count(*)", "analytics.contact_survey_profile"),
}


def headline_metrics(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Name -> value, read on `conn` (a reader's: `Warehouse.read()`)."""
    return {
        name: conn.execute(f"select {expression} from {relation}").fetchone()[0]  # type: ignore[index]
        for name, (expression, relation) in _METRICS.items()
    }
