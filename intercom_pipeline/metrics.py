"""The headline numbers of the marts, for the demo.

All-time totals, not averages of daily rates, with the formulas of the marts' column descriptions.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

_QUERIES = {
    "conversations": "select count(*) from analytics.conversations",
    "resolved (closed)": (
        "select count(*) filter (where state = 'closed') from analytics.conversations"
    ),
    "unresolved (open or snoozed)": (
        "select count(*) filter (where state <> 'closed') from analytics.conversations"
    ),
    "satisfaction rate % (rated 4-5 / rated)": (
        "select round(sum(rated_positive) * 100.0 / nullif(sum(rated_conversations), 0), 2)"
        " from analytics.support_metrics_daily"
    ),
    "dissatisfaction rate % (rated 1-2 / rated)": (
        "select round(sum(rated_negative) * 100.0 / nullif(sum(rated_conversations), 0), 2)"
        " from analytics.support_metrics_daily"
    ),
    "response rate % (rated / conversations)": (
        "select round(sum(rated_conversations) * 100.0 / nullif(sum(conversations), 0), 2)"
        " from analytics.support_metrics_daily"
    ),
    "conversation-to-ticket rate %": (
        "select round(sum(tickets) * 100.0 / nullif(sum(conversations), 0), 2)"
        " from analytics.support_metrics_daily"
    ),
    "median time to first response (minutes)": (
        "select round(median(time_to_first_admin_reply_minutes), 2) from analytics.conversations"
    ),
    "feedback documents": "select count(*) from analytics.feedback_documents",
    "survey responses": "select count(*) from analytics.survey_responses",
    "NPS (% promoters - % detractors)": (
        "select round((count(*) filter (where category = 'promoter')"
        " - count(*) filter (where category = 'detractor')) * 100.0 / nullif(count(*), 0), 2)"
        " from analytics.survey_responses where metric = 'NPS'"
    ),
    "CSAT % satisfied": (
        "select round(count(*) filter (where category = 'satisfied') * 100.0"
        " / nullif(count(*), 0), 2) from analytics.survey_responses where metric = 'CSAT'"
    ),
    "CES mean (1-7)": (
        "select round(avg(score), 2) from analytics.survey_responses where metric = 'CES'"
    ),
    "survey answers in quarantine": "select count(*) from analytics.survey_response_quarantine",
    "contacts with a survey profile": "select count(*) from analytics.contact_survey_profile",
}


def headline_metrics(warehouse: Path) -> dict[str, object]:
    """Name -> value, read through a short read-only connection (the BI copy is fine)."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in _QUERIES.items()}  # type: ignore[index]
