"""The whole graph, materialized into a temporary warehouse: raw tables, survey feed, dbt marts
with their tests as asset checks, and the BI copy. Values are compared with the sandbox."""

from __future__ import annotations

import os
import shutil
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_pipeline.sandbox.survey_feed import write_demo_survey_feed
from intercom_pipeline.sandbox.workspace import Workspace
from intercom_pipeline.sources.intercom.settings import MAX_CONVERSATION_PARTS

CONTACT_AUTHORS = ("user", "lead")


@dataclass
class Build:
    """One full materialization, shared by the tests of this module (it takes ~20 s)."""

    env: dict[str, str]
    warehouse: Path
    serving: Path
    workspace: Workspace
    result: dg.ExecuteInProcessResult
    running: RunningSandbox

    def query(self, sql: str, path: Path | None = None) -> list[tuple]:
        with duckdb.connect(str(path or self.warehouse), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def run(self, **kwargs: object) -> dg.ExecuteInProcessResult:
        from intercom_pipeline.definitions import defs

        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env.items():
                patch.setenv(key, value)
            job = defs().resolve_job_def("intercom_build_all")
            with dg.instance_for_test() as instance:
                return job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    root = tmp_path_factory.mktemp("models")
    sandbox = Sandbox(SandboxConfig(seed=3, scale="tiny"))
    write_demo_survey_feed(sandbox.workspace, root / "feed")
    with RunningSandbox(sandbox) as running:
        env = {
            "DUCKDB_PATH": str(root / "intercom.duckdb"),
            "DUCKDB_SERVING_DIR": str(root / "serving"),
            "SURVEY_FEED_DIR": str(root / "feed"),
            "DLT_DATA_DIR": str(root / "dlt"),
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
        }
        built = Build(
            env,
            root / "intercom.duckdb",
            root / "serving" / "intercom.duckdb",
            sandbox.workspace,
            None,  # type: ignore[arg-type]
            running,
        )
        built.result = built.run()
        yield built


def test_the_whole_graph_materializes_and_every_dbt_test_passes(build: Build) -> None:
    assert build.result.success
    evaluations = build.result.get_asset_check_evaluations()
    assert len(evaluations) > 80  # every dbt data test arrives as an asset check
    failed = [
        e.check_name for e in evaluations if not e.passed and e.asset_key.path[0] != "intercom"
    ]
    assert failed == []
    materialized = {
        m.asset_key.to_user_string() for m in build.result.get_asset_materialization_events()
    }
    pushed = build.result.asset_materializations_for_node("intercom_contact_survey_push")[0]
    assert pushed.metadata["sent"].value > 0 and pushed.metadata["failed"].value == 0
    assert {"conversations", "support_metrics_daily", "contact_survey_profile", "bi_warehouse"} <= {
        m.split("/")[-1] for m in materialized
    }


def test_conversations_mart_matches_the_sandbox(build: Build) -> None:
    conversations = build.workspace.conversations
    rows = dict(
        build.query(
            "select satisfaction_category, count(*) from analytics.conversations group by 1"
        )
    )
    words = {5: "Very Good", 4: "Good", 3: "Neutral", 2: "Bad", 1: "Very Bad"}
    expected = Counter(words[c.rating.rating] if c.rating else "Not Rated" for c in conversations)
    assert rows == dict(expected)
    states = dict(build.query("select state, count(*) from analytics.conversations group by 1"))
    assert states == dict(Counter(c.state for c in conversations))
    channels = dict(build.query("select channel, count(*) from analytics.conversations group by 1"))
    first_channel = {"conversation": "chat"}
    assert channels == dict(
        Counter(first_channel.get(c.channel_initial, c.channel_initial) for c in conversations)
    )
    ages = build.query(
        "select count(*) from analytics.conversations where conversation_age_days is null"
        " or conversation_age_days < 0"
    )
    assert ages == [(0,)]


def test_support_metrics_add_up_to_the_sandbox(build: Build) -> None:
    conversations = build.workspace.conversations
    rated = [c.rating.rating for c in conversations if c.rating]
    (total, resolved, rated_count, positive, tickets) = build.query(
        "select sum(conversations), sum(resolved), sum(rated_conversations), sum(rated_positive),"
        " sum(tickets) from analytics.support_metrics_daily"
    )[0]
    assert total == len(conversations)
    assert resolved == sum(c.state == "closed" for c in conversations)
    assert rated_count == len(rated)
    assert positive == sum(r >= 4 for r in rated)
    assert tickets == sum(c.ticket_id is not None for c in conversations)
    for model in ("support_metrics_daily_by_team", "support_metrics_daily_by_admin"):
        assert build.query(f"select sum(conversations) from analytics.{model}") == [(total,)]
    # A day with no rating has null rates, never zero.
    assert build.query(
        "select count(*) from analytics.support_metrics_daily"
        " where rated_conversations = 0 and satisfaction_rate is not null"
    ) == [(0,)]


def test_feedback_documents_are_conversations_a_customer_wrote_in(build: Build) -> None:
    expected = {
        c.id
        for c in build.workspace.conversations
        if c.source_author_type in CONTACT_AUTHORS
        or any(p.part_type == "comment" and p.author_type in CONTACT_AUTHORS for p in c.parts)
    }
    documents = {
        row[0] for row in build.query("select conversation_id from analytics.feedback_documents")
    }
    assert documents == expected
    attachments = build.query("select sum(count_attachments) from analytics.feedback_documents")[0][
        0
    ]
    assert attachments == sum(
        1
        for c in build.workspace.conversations
        if c.id in expected
        for p in c.parts[-MAX_CONVERSATION_PARTS:]  # the API returns the 500 most recent
        if p.part_type == "comment" and p.attachment
    )


def test_bad_survey_answers_are_quarantined_with_their_reason(build: Build) -> None:
    reasons = [
        row[0]
        for row in build.query(
            "select rejection_reason from analytics.survey_response_quarantine order by 1"
        )
    ]
    assert any(r.startswith("score 11 is out of range for NPS") for r in reasons)
    assert "unknown metric 'NPX': use NPS, 5-STAR, CSAT or CES" in reasons
    assert any(r.startswith("unknown label 'Meh' for CSAT") for r in reasons)
    assert any(r.startswith("unknown contact ") for r in reasons)
    assert any(r.startswith("unreadable line: ") for r in reasons)
    # Email-only rows wait for SURVEY_MATCH_BY_EMAIL=true (unset here).
    assert any("SURVEY_MATCH_BY_EMAIL=true" in r for r in reasons)
    feed_rows = build.query("select count(*) from survey_feed_raw.responses")[0][0]
    used = build.query(
        "select count(*) from analytics.survey_responses where answer_source = 'survey_feed'"
    )[0][0]
    unanswered = build.query(
        "select count(*) from staging.int_survey__answers_validated"
        " where answer_source = 'survey_feed' and rejection_reason is null and not is_response"
    )[0][0]
    assert used + len(reasons) + unanswered == feed_rows  # nothing silently kept or dropped


def test_contact_survey_profile_holds_the_latest_answer(build: Build) -> None:
    latest = build.query(
        "select workspace_id, contact_id, score, category from analytics.survey_responses"
        " qualify row_number() over (partition by workspace_id, contact_id"
        " order by responded_at desc, response_key desc) = 1"
    )
    profile = build.query(
        "select workspace_id, contact_id, last_score, last_category from analytics.contact_survey_profile"
        " where count_responses > 0"
    )
    assert sorted(profile) == sorted(latest)
    assert len(profile) > 0


def test_bi_copy_is_read_only_and_survives_a_reader_through_a_run(build: Build) -> None:
    assert build.serving.exists()
    assert not build.serving.stat().st_mode & stat.S_IWUSR
    count = build.query("select count(*) from analytics.conversations", build.serving)
    assert count == [(len(build.workspace.conversations),)]
    before = build.serving.stat().st_ino
    reader = duckdb.connect(str(build.serving), read_only=True)
    try:
        requests.post(
            f"{build.running.base_url}/_sandbox/clock/advance", json={"seconds": 3600}, timeout=30
        ).raise_for_status()
        rerun = build.run()
        assert rerun.success
        # The reader still reads its copy; a new connection sees the new one.
        assert (
            reader.execute("select count(*) from analytics.conversations").fetchone()[0]
            == count[0][0]
        )
    finally:
        reader.close()
    assert build.serving.stat().st_ino != before
    assert build.query("select count(*) from analytics.conversations", build.serving) == [
        (len(build.workspace.conversations),)
    ]


def test_an_error_severity_test_failure_blocks_the_bi_copy(build: Build, tmp_path: Path) -> None:
    broken = tmp_path / "intercom.duckdb"
    shutil.copyfile(build.warehouse, broken)
    with duckdb.connect(str(broken)) as conn:
        conn.execute(
            "insert into intercom_raw.conversations by name"
            " select * replace ('bogus' as state, 'x-1' as id)"
            " from intercom_raw.conversations limit 1"
        )
    failing = Build(
        {**build.env, "DUCKDB_PATH": str(broken), "DUCKDB_SERVING_DIR": str(tmp_path / "serving")},
        broken,
        tmp_path / "serving" / "intercom.duckdb",
        build.workspace,
        None,
        build.running,
    )  # type: ignore[arg-type]
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    result = failing.run(
        asset_selection=[
            *intercom_dbt_assets().keys,
            dg.AssetKey("bi_warehouse"),
            dg.AssetKey("intercom_contact_survey_push"),
        ]
    )
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert any(name.startswith("accepted_values_conversations_state") for name in failed)
    assert not failing.serving.exists()
    blocked = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "intercom_contact_survey_push" not in blocked and "bi_warehouse" not in blocked
    assert os.path.exists(build.serving)
