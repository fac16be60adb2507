"""The push back against the sandbox: what Intercom ends up holding equals what the marts say."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.reverse_etl import ledger
from intercom_pipeline.reverse_etl.push import PushRefused, push_survey_results
from intercom_pipeline.reverse_etl.settings import PushSettings
from intercom_pipeline.sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_pipeline.sandbox.survey_feed import write_demo_survey_feed
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import Workspace, connect

SEED = 3
PUSH = dg.AssetKey("intercom_contact_survey_push")


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw tables, survey feed and marts, built once; each test pushes from its own copy."""
    from intercom_pipeline.definitions import defs

    root = tmp_path_factory.mktemp("push")
    sandbox = Sandbox(SandboxConfig(seed=SEED, scale="tiny"))
    write_demo_survey_feed(sandbox.workspace, root / "feed")
    with RunningSandbox(sandbox) as running, pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "DUCKDB_PATH": str(root / "intercom.duckdb"),
            "DUCKDB_SERVING_DIR": str(root / "serving"),
            "SURVEY_FEED_DIR": str(root / "feed"),
            "DLT_DATA_DIR": str(root / "dlt"),
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
        }.items():
            patch.setenv(key, value)
        loaded = defs()
        everything_but_the_push = [
            k for k in loaded.resolve_asset_graph().get_all_asset_keys() if k != PUSH
        ]
        with dg.instance_for_test() as instance:
            result = loaded.resolve_job_def("intercom_build_all").execute_in_process(
                instance=instance, asset_selection=everything_but_the_push
            )
    assert result.success
    return root / "intercom.duckdb"


@pytest.fixture
def warehouse(built_warehouse: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "intercom.duckdb"
    shutil.copyfile(built_warehouse, copy)
    return copy


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    """A fresh sandbox of the same seed: the contacts the marts name, nothing pushed yet."""
    with RunningSandbox(Sandbox(SandboxConfig(seed=SEED, scale="tiny"))) as started:
        yield started


def workspaces(running: RunningSandbox, **client_options: Any) -> list[Workspace]:
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": running.base_url, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN}
    )
    return connect([settings], **client_options)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def get(running: RunningSandbox, path: str, **params: str) -> Any:
    response = requests.get(
        f"{running.base_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def writes(running: RunningSandbox) -> list[dict]:
    return requests.get(f"{running.base_url}/_sandbox/stats", timeout=30).json()["writes"]


def test_contacts_carry_what_the_marts_say(warehouse: Path, running: RunningSandbox) -> None:
    report = push_survey_results(warehouse, workspaces(running), PushSettings())
    assert report.failed == 0 and report.sent > 0
    profiles = query(
        warehouse,
        "select contact_id, last_score, last_comment, last_category, last_metric"
        " from analytics.contact_survey_profile where last_score is not null order by contact_id",
    )
    for contact_id, score, comment, category, metric in profiles[:25]:
        attributes = get(running, f"/contacts/{contact_id}")["custom_attributes"]
        assert attributes["survey_score"] == score
        assert attributes.get("survey_comment") == comment
        assert attributes["survey_category"] == category
        assert attributes["survey_metric"] == metric
    expected = query(
        warehouse,
        "select contact_id, 'survey-sent', count(*), min(sent_at), max(sent_at)"
        " from analytics.survey_sends group by all"
        " union all select contact_id, 'survey-response', count(*), min(responded_at),"
        " max(responded_at) from analytics.survey_responses group by all",
    )
    by_contact: dict[str, dict[str, tuple]] = {}
    for contact_id, name, count, first, last in expected:
        by_contact.setdefault(contact_id, {})[name] = (count, first, last)
    for contact_id, events in list(by_contact.items())[:25]:
        summary = get(running, "/events", type="user", intercom_user_id=contact_id, summary="true")[
            "events"
        ]
        got = {
            e["name"]: (
                e["count"],
                datetime.fromisoformat(e["first"]).replace(tzinfo=None),
                datetime.fromisoformat(e["last"]).replace(tzinfo=None),
            )
            for e in summary
            if e["name"] in ("survey-sent", "survey-response")
        }
        assert got == events, contact_id
    created = {
        a["name"]: a["data_type"] for a in get(running, "/data_attributes", model="contact")["data"]
    }
    assert created["survey_score"] == "integer"
    assert created["survey_comment"] == "string"


def test_a_second_run_with_nothing_changed_makes_no_write(
    warehouse: Path, running: RunningSandbox
) -> None:
    first = push_survey_results(warehouse, workspaces(running), PushSettings())
    before = len(writes(running))
    second = push_survey_results(warehouse, workspaces(running), PushSettings())
    assert second.sent == 0 and second.write_calls == 0
    assert second.unchanged == first.sent
    assert len(writes(running)) == before
    runs = query(
        warehouse, f"select sent, unchanged, failed from {ledger.RUNS} order by started_at"
    )
    assert runs == [(first.sent, 0, 0), (0, first.sent, 0)]


def test_score_only_sends_no_comment_and_off_sends_nothing(
    warehouse: Path, running: RunningSandbox
) -> None:
    off = push_survey_results(warehouse, workspaces(running), PushSettings(mode="off"))
    assert off.sent == 0 and off.skipped > 0 and writes(running) == []
    assert "nothing was sent" in off.notes[0]
    push_survey_results(warehouse, workspaces(running), PushSettings(mode="score_only"))
    bodies = [w["body"] for w in writes(running)]
    assert bodies and all(
        "survey_comment" not in (b.get("custom_attributes") or {}) for b in bodies
    )
    assert all("comment" not in (b.get("metadata") or {}) for b in bodies)
    names = {a["name"] for a in get(running, "/data_attributes", model="contact")["data"]}
    assert "survey_score" in names and "survey_comment" not in names


def test_the_export_of_all_feedback_runs_once_a_week(
    warehouse: Path, running: RunningSandbox
) -> None:
    first = push_survey_results(warehouse, workspaces(running), PushSettings())
    start = datetime(2026, 11, 1, 12, 0)
    everything = push_survey_results(
        warehouse, workspaces(running), PushSettings(), resend_all=True, now=start
    )
    assert everything.sent == first.sent and everything.unchanged == 0
    with pytest.raises(PushRefused, match=r"next after 2026-11-08 12:00 UTC"):
        push_survey_results(
            warehouse,
            workspaces(running),
            PushSettings(),
            resend_all=True,
            now=start + timedelta(days=6),
        )
    forced = push_survey_results(
        warehouse,
        workspaces(running),
        PushSettings(),
        resend_all=True,
        force=True,
        now=start + timedelta(days=6),
    )
    assert forced.sent == first.sent
    later = push_survey_results(
        warehouse,
        workspaces(running),
        PushSettings(),
        resend_all=True,
        now=start + timedelta(days=14),
    )
    assert later.sent == first.sent


def test_a_failure_half_way_then_a_rerun_delivers_everything_exactly_once(
    warehouse: Path, running: RunningSandbox
) -> None:
    requests.put(f"{running.base_url}/_sandbox/faults", json={"error_rate": 0.4}, timeout=30)
    flaky = push_survey_results(
        warehouse, workspaces(running, max_retries=0), PushSettings(workers=8)
    )
    assert flaky.failed > 0 and flaky.sent > 0
    requests.put(f"{running.base_url}/_sandbox/faults", json={"error_rate": 0.0}, timeout=30)
    rerun = push_survey_results(warehouse, workspaces(running), PushSettings(workers=8))
    assert rerun.failed == 0
    assert rerun.sent == flaky.failed
    assert rerun.unchanged == flaky.sent
    delivered = Counter()
    for w in writes(running):
        body = w["body"]
        if w["path"] == "/events":
            delivered[("event", body["id"], body["event_name"], body["created_at"])] += 1
    answered = query(warehouse, "select count(*) from analytics.survey_responses")[0][0]
    sent = query(warehouse, "select count(*) from analytics.survey_sends")[0][0]
    # Every event reached Intercom once: a failed one was sent again, an arrived one never.
    assert len(delivered) == answered + sent
    assert set(delivered.values()) == {1}
    contact_id, expected = query(
        warehouse,
        "select contact_id, count(*) from (select contact_id from analytics.survey_responses"
        " union all select contact_id from analytics.survey_sends) group by 1 order by 2 desc limit 1",
    )[0]
    summary = get(running, "/events", type="user", intercom_user_id=contact_id, summary="true")
    assert (
        sum(
            e["count"] for e in summary["events"] if e["name"] in ("survey-sent", "survey-response")
        )
        == expected
    )


def test_a_deleted_contact_is_recorded_and_a_merged_one_followed(
    warehouse: Path, running: RunningSandbox
) -> None:
    deleted_id, merged_id, canonical_id = (
        row[0]
        for row in query(
            warehouse,
            "select contact_id from analytics.contact_survey_profile"
            " where last_score is not null order by contact_id limit 3",
        )
    )
    ws = running.sandbox.workspace
    with ws.lock:
        ws.contact_by_id[deleted_id].deleted_at = ws.now
        ws.contact_by_id[merged_id].merged_into = canonical_id
        ws.changed()
    report = push_survey_results(warehouse, workspaces(running), PushSettings())
    reasons = {key: reason for key, _, reason in report.failures if key.startswith("attributes:")}
    assert any(deleted_id in key and "404" in reason for key, reason in reasons.items())
    assert not any(merged_id in key for key in reasons)
    merged_score = query(
        warehouse,
        f"select last_score from analytics.contact_survey_profile where contact_id = '{merged_id}'",
    )[0][0]
    assert get(running, f"/contacts/{canonical_id}")["custom_attributes"]["survey_score"] in (
        merged_score,
        query(
            warehouse,
            f"select last_score from analytics.contact_survey_profile where contact_id = '{canonical_id}'",
        )[0][0],
    )
    failures = query(warehouse, f"select contact_id, reason from {ledger.FAILURES}")
    assert any(c == deleted_id and "deleted" in r for c, r in failures)
    again = push_survey_results(warehouse, workspaces(running), PushSettings())
    assert again.write_calls == 0  # the deleted contact is not retried until its values change
