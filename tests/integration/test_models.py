"""The whole graph, materialized into a temporary warehouse: raw tables, survey feed, dbt marts
with their tests as asset checks, and the BI copy. Values are compared with the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.defs.keys import mart_key
from intercom_pipeline.defs.reverse_etl import PUSH_ASSET
from intercom_pipeline.sources.intercom.settings import MAX_CONVERSATION_PARTS
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.generate_extras import handling_events
from intercom_sandbox.model import Conversation
from intercom_sandbox.render import BOT_NAMES
from intercom_sandbox.survey_feed import write_demo_survey_feed
from intercom_sandbox.workspace import DAY, Workspace

CONTACT_AUTHORS = ("user", "lead")
PUSH = dg.AssetKey(PUSH_ASSET)


@dataclass
class Build:
    """One full materialization, shared by the tests of this module (it takes ~20 s)."""

    env: dict[str, str]
    warehouse: Path
    serving: Path
    workspace: Workspace
    result: dg.ExecuteInProcessResult
    running: RunningSandbox
    built_between: tuple[float, float] = (0.0, 0.0)  # wall clock around the first run
    # Contacts deleted or merged before the first run: never loaded.
    hidden_before: frozenset[str] = frozenset()

    def query(self, sql: str, path: Path | None = None) -> list[tuple]:
        with duckdb.connect(str(path or self.warehouse), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def run(
        self, instance: dg.DagsterInstance | None = None, **kwargs: object
    ) -> dg.ExecuteInProcessResult:
        """The build job (or `asset_selection` of it), on `instance` or a fresh one."""
        from intercom_pipeline.definitions import defs

        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env.items():
                patch.setenv(key, value)
            job = defs().resolve_job_def("intercom_build_all")
            if instance is not None:
                return job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
            with dg.instance_for_test() as fresh:
                return job.execute_in_process(instance=fresh, raise_on_error=False, **kwargs)


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
        built.hidden_before = frozenset(c.id for c in sandbox.workspace.contacts if not c.visible)
        started = time.time()
        built.result = built.run()
        built.built_between = (started, time.time())
        yield built


def test_the_whole_graph_materializes_and_every_dbt_test_passes(build: Build) -> None:
    assert build.result.success
    evaluations = build.result.get_asset_check_evaluations()
    # Every check of the graph, each dbt data test among them, evaluated once.
    from intercom_pipeline.definitions import defs
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    checks = defs().resolve_asset_graph().asset_check_keys
    assert intercom_dbt_assets().check_keys <= checks
    assert Counter(e.asset_check_key for e in evaluations) == Counter(checks)
    failed = [
        e.check_name for e in evaluations if not e.passed and e.asset_key.path[0] != "intercom"
    ]
    assert failed == []
    materialized = {
        m.asset_key.to_user_string() for m in build.result.get_asset_materialization_events()
    }
    pushed = build.result.asset_materializations_for_node(PUSH_ASSET)[0]
    assert pushed.metadata["sent"].value > 0 and pushed.metadata["failed"].value == 0
    assert {"conversations", "support_metrics_daily", "contact_survey_profile", "bi_warehouse"} <= {
        m.split("/")[-1] for m in materialized
    }


def test_conversations_mart_matches_the_sandbox(build: Build) -> None:
    conversations = build.workspace.conversations
    categories = dict(
        build.query(
            "select satisfaction_category, count(*) from analytics.conversations group by 1"
        )
    )
    words = {5: "Very Good", 4: "Good", 3: "Neutral", 2: "Bad", 1: "Very Bad"}
    expected = Counter(words[c.rating.rating] if c.rating else "Not Rated" for c in conversations)
    assert categories == dict(expected)
    states = dict(build.query("select state, count(*) from analytics.conversations group by 1"))
    assert states == dict(Counter(c.state for c in conversations))
    channels = dict(build.query("select channel, count(*) from analytics.conversations group by 1"))
    first_channel = {"conversation": "chat"}
    assert channels == dict(
        Counter(first_channel.get(c.channel_initial, c.channel_initial) for c in conversations)
    )
    columns = (
        "priority, sla_name, sla_status, tag_names, is_assignee_bot, admin_assignee_name,"
        " has_customer_replied, time_to_first_assignment_minutes, linked_ticket_id, rating_remark"
    )
    rows = build.query(f"select conversation_id, {columns} from analytics.conversations")
    assert {row[0]: row[1:] for row in rows} == {
        c.id: _conversation_row(build, c) for c in conversations
    }
    # Each column holds a value somewhere: none of them is all null or all false.
    assert all(any(row[i] for row in rows) for i in range(1, len(rows[0])))


def _id(assignee_id: int) -> str | None:
    """The sandbox's assignee id as the marts hold it: text, and 0 (nobody) is null."""
    return str(assignee_id) if assignee_id else None


def _conversation_row(build: Build, c: Conversation) -> tuple:
    """What the conversations mart says of `c`, from the sandbox's own objects."""
    ws = build.workspace
    assignee = _id(c.admin_assignee_id)
    admin = ws.admin_by_id.get(assignee) if assignee else None
    is_bot = assignee in ws.bot_ids
    first_assignment = c.statistics().get("first_assignment_at")
    return (
        c.priority,
        c.sla[0] if c.sla else None,
        c.sla[1] if c.sla else None,
        ", ".join(sorted({ws.tag_by_id[t.tag_id].name for t in c.tags})) or None,
        is_bot,
        admin.name if admin else BOT_NAMES[assignee] if is_bot else None,
        any(p.part_type == "comment" and p.author_type in CONTACT_AUTHORS for p in c.parts),
        round((first_assignment - c.created_at) / 60, 2) if first_assignment else None,
        c.ticket_id,
        c.rating.remark if c.rating else None,
    )


def test_conversation_age_is_in_days_to_the_last_close_or_to_the_build(build: Build) -> None:
    ages = dict(
        build.query("select conversation_id, conversation_age_days from analytics.conversations")
    )
    started, finished = build.built_between
    for c in build.workspace.conversations:
        if c.state == "closed":
            # Two decimals of days: the rounding is all that may differ.
            closed = c.statistics().get("last_close_at", c.updated_at)
            assert ages[c.id] == pytest.approx((closed - c.created_at) / DAY, abs=0.005), c.id
        else:
            assert (started - c.created_at) / DAY - 0.005 <= ages[c.id], c.id
            assert ages[c.id] <= (finished - c.created_at) / DAY + 0.005, c.id
    assert {c.state == "closed" for c in build.workspace.conversations} == {True, False}


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
    for model, key, assignee in (
        ("support_metrics_daily_by_team", "team_id", lambda c: c.team_assignee_id),
        ("support_metrics_daily_by_admin", "admin_id", lambda c: c.admin_assignee_id),
    ):
        rows = build.query(
            f"select metric_date, {key}, conversations, resolved, rated_conversations"
            f" from analytics.{model}"
        )
        expected: dict[tuple, list[int]] = {}
        for c in conversations:
            day = datetime.fromtimestamp(c.created_at, UTC).date()
            counts = expected.setdefault((day, _id(assignee(c))), [0, 0, 0])
            counts[0] += 1
            counts[1] += c.state == "closed"
            counts[2] += c.rating is not None
        assert {row[:2]: list(row[2:]) for row in rows} == expected, model
        assert len({row[1] for row in rows}) > 2, model  # several teams or admins, and nobody
    # A day with no rating has null rates, never zero.
    assert build.query(
        "select count(*) from analytics.support_metrics_daily"
        " where rated_conversations = 0 and satisfaction_rate is not null"
    ) == [(0,)]


def test_the_demo_headline_metrics_follow_the_rate_rule(build: Build) -> None:
    """metrics.py writes the rate rule again in its SQL: its figures, from the rows."""
    from intercom_pipeline.warehouse.metrics import headline_metrics

    conversations = build.workspace.conversations
    rated = [c.rating.rating for c in conversations if c.rating]
    scores: dict[str, list[tuple[int, str]]] = {}
    for metric, score, category in build.query(
        "select metric, score, category from analytics.survey_responses"
    ):
        scores.setdefault(metric, []).append((score, category))
    csat = [category for _, category in scores["CSAT"]]
    ces = [score for score, _ in scores["CES"]]
    with duckdb.connect(str(build.warehouse), read_only=True) as conn:
        metrics = headline_metrics(conn)
    assert {
        name: metrics[name]
        for name in (
            "dissatisfaction rate % (rated 1-2 / rated)",
            "conversation-to-ticket rate %",
            "CSAT % satisfied",
            "CES mean (1-7)",
        )
    } == {
        "dissatisfaction rate % (rated 1-2 / rated)": _hundredths(
            100 * sum(r <= 2 for r in rated), len(rated)
        ),
        "conversation-to-ticket rate %": _hundredths(
            100 * sum(c.ticket_id is not None for c in conversations), len(conversations)
        ),
        "CSAT % satisfied": _hundredths(100 * csat.count("satisfied"), len(csat)),
        "CES mean (1-7)": _hundredths(sum(ces), len(ces)),
    }


def _hundredths(numerator: int, denominator: int) -> float:
    """numerator / denominator to two decimals, halves away from zero (DuckDB's round)."""
    exact = Decimal(numerator) / Decimal(denominator)
    return float(exact.quantize(Decimal("0.01"), ROUND_HALF_UP))


def test_feedback_documents_are_conversations_a_customer_wrote_in(build: Build) -> None:
    replied = {
        c.id
        for c in build.workspace.conversations
        if any(p.part_type == "comment" and p.author_type in CONTACT_AUTHORS for p in c.parts)
    }
    started_by_us = {
        c.id for c in build.workspace.conversations if c.source_author_type not in CONTACT_AUTHORS
    }
    expected = {c.id for c in build.workspace.conversations if c.id not in started_by_us} | replied
    documents = {
        row[0] for row in build.query("select conversation_id from analytics.feedback_documents")
    }
    assert documents == expected
    # Both cases occur: a message we sent that nobody answered (not feedback), and one answered.
    assert started_by_us - replied and not (started_by_us - replied) & documents
    assert started_by_us & replied and started_by_us & replied <= documents
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
            "select rejection_reason from analytics.survey_response_quarantine"
            " where answer_source = 'survey_feed' order by 1"
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
        "select count(*) from analytics.survey_sends"
        " where answer_source = 'survey_feed' and not is_answered"
    )[0][0]
    assert unanswered > 0
    assert used + len(reasons) + unanswered == feed_rows  # nothing silently kept or dropped


def test_survey_scores_add_up_per_workspace_day_and_metric(build: Build) -> None:
    responses: dict[tuple, list[str]] = {}
    for workspace, day, metric, category in build.query(
        "select workspace_id, cast(responded_at as date), metric, category"
        " from analytics.survey_responses"
    ):
        responses.setdefault((workspace, day, metric), []).append(category)
    scores = {
        row[:3]: row[3:]
        for row in build.query(
            "select workspace_id, response_date, metric, responses, promoters, detractors, nps,"
            " csat_satisfied_rate from analytics.survey_scores"
        )
    }
    assert scores.keys() == responses.keys()
    for key, categories in responses.items():
        count, promoters, detractors = (
            len(categories),
            categories.count("promoter"),
            categories.count("detractor"),
        )
        nps = round((promoters - detractors) * 100 / count, 2) if key[2] == "NPS" else None
        satisfied = (
            round(categories.count("satisfied") * 100 / count, 2) if key[2] == "CSAT" else None
        )
        assert scores[key] == (count, promoters, detractors, nps, satisfied), key
    ratings = build.query(
        "select count(*) from analytics.survey_responses where answer_source = 'intercom_rating'"
    )
    assert ratings == [(sum(c.rating is not None for c in build.workspace.conversations),)]


def test_tickets_match_the_sandbox(build: Build) -> None:
    ws = build.workspace
    linked_from = {c.ticket_id: c.id for c in ws.conversations if c.ticket_id}
    expected = {
        t.id: (
            ws.ticket_type_by_id[t.ticket_type_id].name,
            ws.ticket_type_by_id[t.ticket_type_id].category,
            ws.ticket_state(t.state_id).category,
            str(t.admin_assignee_id) if t.admin_assignee_id else None,
            str(t.team_assignee_id) if t.team_assignee_id else None,
            t.conversation_id or linked_from.get(t.id),
        )
        for t in ws.tickets
    }
    rows = build.query(
        "select ticket_id, ticket_type_name, ticket_category, ticket_state, admin_assignee_id,"
        " team_assignee_id, linked_conversation_id from analytics.tickets"
    )
    assert {row[0]: row[1:] for row in rows} == expected
    assert any(row[-1] for row in rows)


def test_tickets_name_their_states_from_the_ticket_states_table(build: Build) -> None:
    ws = build.workspace
    states = {s.id: s for s in ws.ticket_states}
    expected = {
        t.id: (
            states[t.state_id].internal_label,
            states[t.state_id].external_label,
            t.previous_state_id,
            states[t.previous_state_id].internal_label if t.previous_state_id else None,
            ws.ticket_type_by_id[t.ticket_type_id].description,
        )
        for t in ws.tickets
    }
    rows = build.query(
        "select ticket_id, ticket_state_label, ticket_state_external_label,"
        " previous_ticket_state_id, previous_ticket_state_label, ticket_type_description"
        " from analytics.tickets"
    )
    assert {row[0]: row[1:] for row in rows} == expected
    assert any(row[3] for row in rows)


def test_admin_activity_is_the_workspace_log_with_names(build: Build) -> None:
    ws = build.workspace
    names = {a.id: a.name for a in ws.admins}
    expected = {
        log["id"]: (
            log["activity_type"],
            log["performed_by"]["id"],
            names[log["performed_by"]["id"]],
            log["performed_by"]["ip"],
            datetime.fromtimestamp(log["created_at"], UTC).replace(tzinfo=None),
        )
        for log in ws.activity_logs
    }
    rows = build.query(
        "select activity_log_id, activity_type, admin_id, admin_name, ip_address, created_at"
        " from analytics.admin_activity"
    )
    assert {row[0]: row[1:] for row in rows} == expected


def test_conversation_pauses_add_up_from_the_handling_events(build: Build) -> None:
    ws = build.workspace
    expected = {}
    for conversation in ws.conversations:
        events = handling_events(ws, conversation) if conversation.admin_assignee_id else []
        moments = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in events]
        paused = sum(
            moments[i + 1] - moments[i]
            for i, event in enumerate(events[:-1])
            if event["type"] == "paused"
        )
        expected[conversation.id] = (
            sum(e["type"] == "paused" for e in events),
            Decimal(paused / 60).quantize(Decimal("0.01"), ROUND_HALF_UP),
            bool(events) and events[-1]["type"] == "paused",
        )
    rows = build.query(
        "select conversation_id, count_pauses, paused_minutes::decimal(18, 2), is_paused"
        " from analytics.conversations"
    )
    assert {row[0]: row[1:] for row in rows} == expected
    assert sum(count for count, _, _ in expected.values()) > 0


def test_link_tables_match_the_sandbox(build: Build) -> None:
    ws = build.workspace
    pairs = set(
        build.query("select conversation_id, contact_id from analytics.conversation_contacts")
    )
    assert pairs == {(c.id, contact) for c in ws.conversations for contact in c.contact_ids}
    members = set(build.query("select team_id, admin_id, team_name from analytics.team_admins"))
    assert members == {(t.id, str(a), t.name) for t in ws.teams for a in t.admin_ids}
    teams = dict(build.query("select admin_id, team_names from analytics.admin_performance"))
    assert teams == {
        a.id: ", ".join(sorted(t.name for t in ws.teams if int(a.id) in t.admin_ids)) or None
        for a in ws.admins
    }


def test_contacts_and_companies_match_the_sandbox(build: Build) -> None:
    ws = build.workspace
    names = {c.id: c.name for c in ws.companies}
    contacts = {
        row[0]: row[1:]
        for row in build.query(
            "select contact_id, role, email, count_companies, company_names, is_deleted,"
            " custom_attributes->>'plan' from analytics.contacts"
        )
    }
    assert contacts == {
        c.id: (
            c.role,
            c.email,
            len(c.company_ids),
            ", ".join(sorted(names[i] for i in c.company_ids)) or None,
            False,
            c.custom_attributes.get("plan"),
        )
        for c in ws.visible_contacts()
    }
    companies = dict(build.query("select company_id, count_contacts from analytics.companies"))
    assert companies == {
        company.id: sum(company.id in c.company_ids for c in ws.visible_contacts())
        for company in ws.visible_companies()
    }


def test_feedback_documents_keep_the_thread_in_order_with_its_html(build: Build) -> None:
    ws = build.workspace
    rows = build.query(
        "select conversation_id, intercom_url, messages::varchar from analytics.feedback_documents"
    )
    assert rows
    for conversation_id, url, messages in rows:
        conversation = ws.conversation_by_id[conversation_id]
        assert url == (
            f"https://app.intercom.com/a/inbox/{ws.app_id}/inbox/conversation/{conversation_id}"
        )
        expected = [(conversation.source_author_type, conversation.body)] + [
            (p.author_type, p.body)
            for p in conversation.parts[-MAX_CONVERSATION_PARTS:]
            if p.part_type == "comment"
        ]
        thread = [(m["author_type"], m["body_html"]) for m in json.loads(messages)]
        assert thread == expected, conversation_id
    assert any("<p>" in messages for _, _, messages in rows)  # HTML kept as written


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
    # The busy hour deleted conversations too: their rows stay, flagged.
    ws = build.workspace
    assert ws.deleted_conversations
    assert build.query(
        "select count(*) filter (where not is_deleted), count(*) from analytics.conversations",
        build.serving,
    ) == [(len(ws.conversations), len(ws.conversations) + len(ws.deleted_conversations))]


def test_a_failing_dbt_test_fails_the_dbt_step_and_nothing_after_it_runs(
    build: Build, tmp_path: Path
) -> None:
    broken = tmp_path / "intercom.duckdb"
    shutil.copyfile(build.warehouse, broken)
    with duckdb.connect(str(broken)) as conn:
        conn.execute(
            "insert into intercom_raw.conversations by name"
            " select * replace ('bogus' as state, 'x-1' as id, '9999999999.0' as _dlt_load_id)"
            " from intercom_raw.conversations limit 1"
        )
    failing = Build(
        {**build.env, "DUCKDB_PATH": str(broken), "DUCKDB_SERVING_DIR": str(tmp_path / "serving")},
        broken,
        tmp_path / "serving" / "intercom.duckdb",
        build.workspace,
        None,  # type: ignore[arg-type]
        build.running,
    )
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    result = failing.run(
        asset_selection=[*intercom_dbt_assets().keys, dg.AssetKey("bi_warehouse"), PUSH]
    )
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert any(name.startswith("accepted_values_conversations_state") for name in failed)
    assert {e.step_key for e in result.all_events if e.is_step_failure} == {"intercom_dbt"}
    started = {e.step_key for e in result.all_events if e.is_step_start}
    assert started == {"intercom_dbt"}  # the BI copy and the push never start
    assert not failing.serving.exists()
    # Inside the step, dbt itself skips the models built on the failing one.
    written = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "analytics/conversations" in written
    assert "analytics/support_metrics_daily" not in written
    assert os.path.exists(build.serving)


def test_a_recorded_failing_check_blocks_the_push_only_on_a_mart_it_reads(build: Build) -> None:
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    checks = sorted(intercom_dbt_assets().check_keys, key=lambda k: k.to_user_string())
    on_conversations = next(k for k in checks if k.asset_key == mart_key("conversations"))
    on_sends = next(k for k in checks if k.asset_key == mart_key("survey_sends"))
    with dg.instance_for_test() as instance:

        def fail(check: dg.AssetCheckKey) -> None:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=check.asset_key,
                    check_name=check.name,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                )
            )

        fail(on_conversations)  # the push does not read the conversations mart
        pushed = build.run(instance, asset_selection=[PUSH])
        assert pushed.success
        assert pushed.asset_materializations_for_node(PUSH_ASSET)[0].metadata["failed"].value == 0
        before = _writes(build)
        fail(on_sends)
        refused = build.run(instance, asset_selection=[PUSH])
        assert not refused.success
        (failure,) = [e for e in refused.all_events if e.is_step_failure]
        message = failure.step_failure_data.error.message
        assert "Not pushed" in message and on_sends.to_user_string() in message
        assert on_conversations.to_user_string() not in message
        assert _writes(build) == before


def _writes(build: Build) -> int:
    """Writes the sandbox received, all runs together."""
    stats = requests.get(f"{build.running.base_url}/_sandbox/stats", timeout=30)
    return stats.json()["write_count"]


def test_deleted_conversations_contacts_and_companies_stay_flagged(build: Build) -> None:
    changes = requests.post(
        f"{build.running.base_url}/_sandbox/clock/advance",
        json={
            "seconds": 3600,
            "activity": {
                "contact_deletions": 2,
                "company_deletions": 1,
                "conversation_deletions": 2,
            },
        },
        timeout=30,
    )
    changes.raise_for_status()
    gone = changes.json()["changes"]
    assert len(gone["deleted_contacts"]) == 2 and len(gone["deleted_companies"]) == 1
    assert len(gone["deleted_conversations"]) == 2
    assert build.run().success
    flagged = build.query(
        "select contact_id, deleted_at is not null from analytics.contacts where is_deleted"
    )
    # Exactly the contacts gone since the first build: these two, and those the earlier runs of
    # this module deleted or merged into another.
    gone_since = {c.id for c in build.workspace.contacts if not c.visible} - build.hidden_before
    assert set(gone["deleted_contacts"]) <= gone_since
    assert set(flagged) == {(contact, True) for contact in gone_since}
    companies = build.query("select company_id from analytics.companies where is_deleted")
    assert {row[0] for row in companies} == {
        c.id for c in build.workspace.companies if c.deleted_at is not None
    }
    # Every conversation deleted since the first build (this move's and the earlier busy
    # hour's), with Intercom's deletion time.
    conversations = build.query(
        "select conversation_id, epoch(deleted_at)::bigint, is_deleted_metrics_retained"
        " from analytics.conversations where is_deleted"
    )
    assert set(conversations) == {
        (d.id, d.deleted_at, d.metrics_retained) for d in build.workspace.deleted_conversations
    }
    assert set(gone["deleted_conversations"]) <= {row[0] for row in conversations}
