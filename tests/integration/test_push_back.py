"""The push back against the sandbox: what Intercom ends up holding equals what the marts say."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.activation.push_back import ledger
from intercom_pipeline.activation.push_back.push import PushRefused, push_survey_results
from intercom_pipeline.activation.push_back.settings import PushSettings
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import Workspace, connect
from intercom_pipeline.sources.intercom.client import IntercomAuthError, IntercomError
from intercom_pipeline.warehouse import Warehouse
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.survey_feed import write_demo_survey_feed

SEED = 3
PUSH = dg.AssetKey("intercom_contact_survey_push")
SHARED_EMAIL_COMMENT = "sent from the shared inbox"


def build(loaded: dg.Definitions, selection: dg.AssetSelection) -> None:
    """Materialize `selection` minus the push, which each test runs itself."""
    keys = (selection - dg.AssetSelection.assets(PUSH)).resolve(loaded.resolve_asset_graph())
    with dg.instance_for_test() as instance:
        result = loaded.resolve_job_def("intercom_build_all").execute_in_process(
            instance=instance, asset_selection=list(keys)
        )
    assert result.success


def build_environment(root: Path, feed: Path, base_url: str) -> dict[str, str]:
    return {
        "DUCKDB_PATH": str(root / "intercom.duckdb"),
        "DUCKDB_SERVING_DIR": str(root / "serving"),
        "SURVEY_FEED_DIR": str(feed),
        "DLT_DATA_DIR": str(root / "dlt"),
        "SURVEY_MATCH_BY_EMAIL": "true",
        "INTERCOM_BASE_URL": base_url,
        "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
    }


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw tables, survey feed and marts, built once; each test pushes from its own copy.

    Two contacts share an email, and one feed answer names only that email.
    """
    from intercom_pipeline.definitions import defs

    root = tmp_path_factory.mktemp("push")
    sandbox = Sandbox(SandboxConfig(seed=SEED, scale="tiny"))
    write_demo_survey_feed(sandbox.workspace, root / "feed")
    first, second = sandbox.workspace.visible_contacts()[-2:]
    second.email = first.email
    sandbox.workspace.changed()
    (root / "feed" / "shared_email.csv").write_text(
        "email,metric,score,comment,responded_at\n"
        f"{first.email},NPS,10,{SHARED_EMAIL_COMMENT},2026-10-30T10:00:00Z\n"
    )
    with RunningSandbox(sandbox) as running, pytest.MonkeyPatch.context() as patch:
        for key, value in build_environment(root, root / "feed", running.base_url).items():
            patch.setenv(key, value)
        build(defs(), dg.AssetSelection.all())
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


def workspaces(
    running: RunningSandbox, token: str = DEFAULT_TOKEN, **client_options: Any
) -> list[Workspace]:
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": running.base_url, "INTERCOM_ACCESS_TOKEN": token}
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


def expected_events(warehouse: Path) -> dict[str, dict[str, tuple]]:
    """contact -> event name -> (count, first, last), as the marts say Intercom sums them up.

    Intercom keeps one event per contact, name and second.
    """
    expected = query(
        warehouse,
        "select contact_id, 'survey-sent', count(distinct date_trunc('second', sent_at)),"
        " min(sent_at), max(sent_at) from analytics.survey_sends group by all"
        " union all select contact_id, 'survey-response',"
        " count(distinct date_trunc('second', responded_at)), min(responded_at),"
        " max(responded_at) from analytics.survey_responses group by all",
    )
    by_contact: dict[str, dict[str, tuple]] = {}
    for contact_id, name, count, first, last in expected:
        by_contact.setdefault(contact_id, {})[name] = (count, first, last)
    return by_contact


def event_summary(running: RunningSandbox, contact_id: str) -> dict[str, tuple]:
    """What Intercom's event summary says of a contact's survey events."""
    summary = get(running, "/events", type="user", intercom_user_id=contact_id, summary="true")
    return {
        e["name"]: (
            e["count"],
            datetime.fromisoformat(e["first"]).replace(tzinfo=None),
            datetime.fromisoformat(e["last"]).replace(tzinfo=None),
        )
        for e in summary["events"]
        if e["name"] in ("survey-sent", "survey-response")
    }


def test_contacts_carry_what_the_marts_say(warehouse: Path, running: RunningSandbox) -> None:
    report = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    assert report.failed == 0 and report.sent > 0
    profiles = query(
        warehouse,
        "select contact_id, last_score, last_comment, last_category, last_metric"
        " from analytics.contact_survey_profile where last_score is not null order by contact_id",
    )
    assert profiles
    for contact_id, score, comment, category, metric in profiles:
        attributes = get(running, f"/contacts/{contact_id}")["custom_attributes"]
        assert attributes["survey_score"] == score
        assert attributes.get("survey_comment") == comment
        assert attributes["survey_category"] == category
        assert attributes["survey_metric"] == metric
    by_contact = expected_events(warehouse)
    assert {c for c, *_ in profiles} <= set(by_contact)
    for contact_id, events in by_contact.items():
        assert event_summary(running, contact_id) == events, contact_id
    # Write calls are the writes Intercom accepted: each one the sandbox received, no GET.
    assert report.write_calls == len(writes(running)) == report.sent + 4  # + the 4 attributes
    created = {
        a["name"]: a["data_type"] for a in get(running, "/data_attributes", model="contact")["data"]
    }
    assert created["survey_score"] == "integer"
    assert created["survey_comment"] == "string"


def refusals(running: RunningSandbox) -> int:
    stats = requests.get(f"{running.base_url}/_sandbox/stats", timeout=30).json()
    return stats["statuses"].get("401", 0)


def test_a_refused_token_stops_the_run_at_its_first_call(
    warehouse: Path, running: RunningSandbox
) -> None:
    connected = workspaces(running)
    assert connected[0].workspace_id  # GET /me, while the token is valid
    running.sandbox.config.token = "rotated"  # then revoked: every call is refused (401)
    with pytest.raises(IntercomAuthError) as refused:
        push_survey_results(Warehouse.at(warehouse), connected, PushSettings())
    assert "Intercom rejected the access token (401" in str(refused.value)
    assert DEFAULT_TOKEN not in str(refused.value)
    assert refusals(running) == 1  # GET /data_attributes, before any write
    assert writes(running) == []
    # With only events to send, the first write goes alone: one refused call stops the run.
    running.sandbox.config.token = DEFAULT_TOKEN
    assert push_survey_results(Warehouse.at(warehouse), connected, PushSettings()).failed == 0
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"delete from {ledger.LEDGER} where kind = 'event'")
    running.sandbox.config.token = "rotated"
    with pytest.raises(IntercomAuthError):
        push_survey_results(Warehouse.at(warehouse), connected, PushSettings())
    assert refusals(running) == 2
    assert query(warehouse, f"select count(*) from {ledger.LEDGER} where kind = 'event'") == [(0,)]


def test_a_second_run_with_nothing_changed_makes_no_write(
    warehouse: Path, running: RunningSandbox
) -> None:
    first = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    before = len(writes(running))
    assert first.write_calls == before
    second = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    assert second.sent == 0 and second.write_calls == 0
    assert second.unchanged == first.sent
    assert len(writes(running)) == before
    runs = query(
        warehouse, f"select sent, unchanged, failed from {ledger.RUNS} order by started_at"
    )
    assert runs == [(first.sent, 0, 0), (0, first.sent, 0)]


def test_off_sends_nothing_and_says_so(warehouse: Path, running: RunningSandbox) -> None:
    off = push_survey_results(
        Warehouse.at(warehouse), workspaces(running), PushSettings(mode="off")
    )
    assert writes(running) == []
    assert off.sent == 0 and off.unchanged == 0 and off.skipped > 0
    assert off.notes == [
        f"INTERCOM_PUSH_MODE=off: nothing was sent ({off.skipped} changed writes skipped)"
    ]
    sent = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    assert sent.sent == off.skipped  # skipped counted what would have been sent
    again = push_survey_results(
        Warehouse.at(warehouse), workspaces(running), PushSettings(mode="off")
    )
    assert (again.skipped, again.unchanged) == (0, sent.sent)


def test_switching_to_score_only_clears_the_comments_and_resends_no_event(
    warehouse: Path, running: RunningSandbox
) -> None:
    full = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    commented = query(
        warehouse,
        "select contact_id from analytics.contact_survey_profile"
        " where last_comment is not null order by contact_id limit 1",
    )[0][0]
    assert get(running, f"/contacts/{commented}")["custom_attributes"]["survey_comment"]
    before = len(writes(running))
    score_only = push_survey_results(
        Warehouse.at(warehouse), workspaces(running), PushSettings(mode="score_only")
    )
    switched = writes(running)[before:]
    with_comment = query(
        warehouse,
        "select count(*) from analytics.contact_survey_profile"
        " where last_score is not null and last_comment is not null",
    )[0][0]
    # Only the attribute updates that held a comment change: every event is known by
    # (contact, name, created_at), whatever its metadata.
    assert {w["path"].split("/")[1] for w in switched} == {"contacts"}
    assert len(switched) == score_only.sent == with_comment
    assert score_only.unchanged == full.sent - with_comment
    assert all(w["body"]["custom_attributes"]["survey_comment"] is None for w in switched)
    assert get(running, f"/contacts/{commented}")["custom_attributes"]["survey_comment"] is None
    assert "sent empty" in score_only.notes[0]


def test_score_only_from_the_start_sends_no_comment(
    warehouse: Path, running: RunningSandbox
) -> None:
    push_survey_results(
        Warehouse.at(warehouse), workspaces(running), PushSettings(mode="score_only")
    )
    bodies = [w["body"] for w in writes(running) if w["path"] != "/data_attributes"]
    assert bodies
    assert all((b.get("custom_attributes") or {}).get("survey_comment") is None for b in bodies)
    assert all("comment" not in (b.get("metadata") or {}) for b in bodies)


def test_the_export_of_all_feedback_runs_once_a_week(
    warehouse: Path, running: RunningSandbox
) -> None:
    first = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    start = datetime(2026, 11, 1, 12, 0)
    # Neither an export in mode off nor one whose every write failed sent anything: neither
    # starts the week.
    off = push_survey_results(
        Warehouse.at(warehouse),
        workspaces(running),
        PushSettings(mode="off"),
        resend_all=True,
        now=start - timedelta(days=2),
    )
    assert off.skipped == first.sent
    unavailable = workspaces(running, max_retries=0)
    assert unavailable[0].workspace_id  # GET /me, before every call fails
    requests.put(f"{running.base_url}/_sandbox/faults", json={"error_rate": 1.0}, timeout=30)
    failing = push_survey_results(
        Warehouse.at(warehouse),
        unavailable,
        PushSettings(),
        resend_all=True,
        now=start - timedelta(days=1),
    )
    requests.put(f"{running.base_url}/_sandbox/faults", json={"error_rate": 0.0}, timeout=30)
    assert (failing.sent, failing.failed) == (0, first.sent)
    everything = push_survey_results(
        Warehouse.at(warehouse), workspaces(running), PushSettings(), resend_all=True, now=start
    )
    assert everything.sent == first.sent and everything.unchanged == 0
    with pytest.raises(PushRefused, match=r"next after 2026-11-08 12:00 UTC"):
        push_survey_results(
            Warehouse.at(warehouse),
            workspaces(running),
            PushSettings(),
            resend_all=True,
            now=start + timedelta(days=6),
        )
    forced = push_survey_results(
        Warehouse.at(warehouse),
        workspaces(running),
        PushSettings(),
        resend_all=True,
        force=True,
        now=start + timedelta(days=6),
    )
    assert forced.sent == first.sent
    later = push_survey_results(
        Warehouse.at(warehouse),
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
        Warehouse.at(warehouse), workspaces(running, max_retries=0), PushSettings(workers=8)
    )
    assert flaky.failed > 0 and flaky.sent > 0
    # The failed calls (500s) are not write calls: only the writes that arrived are.
    assert flaky.write_calls == len(writes(running))
    requests.put(f"{running.base_url}/_sandbox/faults", json={"error_rate": 0.0}, timeout=30)
    rerun = push_survey_results(
        Warehouse.at(warehouse), workspaces(running), PushSettings(workers=8)
    )
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
    assert len(delivered) == answered + sent - flaky.events_merged
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


def profiles(warehouse: Path) -> list[tuple[str, int, str | None, datetime]]:
    """(contact, score, comment, answered at) of each contact with an answer, by contact."""
    return query(
        warehouse,
        "select contact_id, last_score, last_comment, last_response_at"
        " from analytics.contact_survey_profile where last_score is not null order by contact_id",
    )


def merge(running: RunningSandbox, merged_id: str, canonical_id: str) -> None:
    ws = running.sandbox.workspace
    with ws.lock:
        ws.contact_by_id[merged_id].merged_into = canonical_id
        ws.changed()


def attribute_puts(running: RunningSandbox, contact_id: str) -> list[dict]:
    return [w["body"] for w in writes(running) if w["path"] == f"/contacts/{contact_id}"]


def answer_410_to_events_of(connected: Workspace, merged_id: str, canonical_id: str) -> None:
    """Intercom's answer to an event for a merged contact: 410 with the canonical contact.

    The sandbox files such an event on the canonical contact itself, so its client answers here.
    """
    request = connected.client.request

    def answer(method: str, path: str, **options: Any) -> Any:
        if path == "/events" and (options.get("json") or {}).get("id") == merged_id:
            raise IntercomError(
                "POST /events: 410 contact_merged: This contact has been merged",
                410,
                "contact_merged",
                f'</contacts/{canonical_id}>; rel="canonical"',
            )
        return request(method, path, **options)

    connected.client.request = answer  # type: ignore[method-assign]


def test_a_deleted_contact_is_recorded_and_a_merged_one_followed(
    warehouse: Path, running: RunningSandbox
) -> None:
    (deleted_id, *_), (merged_id, merged_score, merged_comment, _) = profiles(warehouse)[:2]
    canonical_id = query(
        warehouse,
        "select contact_id from analytics.contacts where not is_deleted and contact_id not in"
        " (select contact_id from analytics.contact_survey_profile) order by contact_id limit 1",
    )[0][0]
    ws = running.sandbox.workspace
    with ws.lock:
        ws.contact_by_id[deleted_id].deleted_at = ws.now
    merge(running, merged_id, canonical_id)
    connected = workspaces(running)
    answer_410_to_events_of(connected[0], merged_id, canonical_id)
    report = push_survey_results(Warehouse.at(warehouse), connected, PushSettings())
    reasons = {key: reason for key, _, reason in report.failures if key.startswith("attributes:")}
    assert any(deleted_id in key and "404" in reason for key, reason in reasons.items())
    assert not any(merged_id in key for key in reasons)
    attributes = get(running, f"/contacts/{canonical_id}")["custom_attributes"]
    assert attributes["survey_score"] == merged_score
    assert attributes["survey_comment"] == merged_comment
    assert [
        b["custom_attributes"]["survey_score"] for b in attribute_puts(running, canonical_id)
    ] == [merged_score]
    failures = query(warehouse, f"select contact_id, reason from {ledger.FAILURES}")
    assert any(c == deleted_id and "deleted" in r for c, r in failures)
    # The merged contact's events (410) went to the canonical contact, which had none.
    merged_events = expected_events(warehouse)[merged_id]
    assert event_summary(running, canonical_id) == merged_events
    events = Counter(w["body"]["id"] for w in writes(running) if w["path"] == "/events")
    assert events[canonical_id] == sum(count for count, _, _ in merged_events.values())
    assert merged_id not in events
    assert not any(merged_id in key for key, _, _ in report.failures)
    again = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    assert again.write_calls == 0  # the deleted contact is not retried until its values change


def answered_apart(rows: list[tuple]) -> list[tuple]:
    """Two profiles with different scores and answer times, the earlier answer first."""
    other = next(r for r in rows[1:] if r[1] != rows[0][1] and r[3] != rows[0][3])
    return sorted((rows[0], other), key=lambda row: row[3])


def test_a_merged_contact_and_its_canonical_one_keep_the_latest_answer(
    warehouse: Path, running: RunningSandbox
) -> None:
    rows = profiles(warehouse)
    half = len(rows) // 2
    a, b = answered_apart(rows[:half])
    c, d = answered_apart(rows[half:])
    merge(running, b[0], a[0])  # merged answered later: its answer wins on the canonical
    merge(running, c[0], d[0])  # merged answered earlier: the canonical keeps its own
    report = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    assert report.failed == 0
    assert get(running, f"/contacts/{a[0]}")["custom_attributes"]["survey_score"] == b[1]
    assert get(running, f"/contacts/{d[0]}")["custom_attributes"]["survey_score"] == d[1]
    assert [p["custom_attributes"]["survey_score"] for p in attribute_puts(running, d[0])] == [d[1]]
    assert any("merged contacts' values were not written" in n for n in report.notes)
    workspace_id = running.sandbox.workspace.app_id
    # c's values were never sent: recorded (so not retried) without a time of sending.
    assert query(
        warehouse,
        f"select sent_at, last_error, payload_hash is not null from {ledger.LEDGER}"
        f" where item_key = 'attributes:{workspace_id}:{c[0]}'",
    ) == [(None, f"superseded by {d[0]}", True)]
    (sent_at,) = query(
        warehouse,
        f"select sent_at from {ledger.LEDGER} where item_key = 'attributes:{workspace_id}:{b[0]}'",
    )[0]
    assert sent_at is not None  # b's values were sent, onto a
    assert (
        push_survey_results(
            Warehouse.at(warehouse), workspaces(running), PushSettings()
        ).write_calls
        == 0
    )


def test_an_email_shared_by_several_contacts_is_reported_not_written(
    warehouse: Path, running: RunningSandbox
) -> None:
    report = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    quarantined = query(
        warehouse,
        "select response_key, rejection_reason, rejection_code"
        f" from analytics.survey_response_quarantine where comment = '{SHARED_EMAIL_COMMENT}'",
    )
    assert len(quarantined) == 1 and quarantined[0][1].endswith("matches 2 contacts")
    assert quarantined[0][2] == "ambiguous_email"
    assert report.ambiguous == [quarantined[0][:2]]  # the only answer of that kind
    assert not any(SHARED_EMAIL_COMMENT in str(w["body"]) for w in writes(running))
    runs = query(warehouse, f"select ambiguous_emails from {ledger.RUNS}")
    assert runs == [(len(report.ambiguous),)]


def test_each_quarantined_answer_has_the_code_of_its_reason(warehouse: Path) -> None:
    """The push filters on rejection_code, never on the reason's wording."""
    starts = {
        "ambiguous_email": "email ",
        "out_of_range": "score ",
        "unknown_contact": "unknown contact ",
        "unknown_label": "unknown label ",
        "unknown_metric": "unknown metric ",
        "unreadable_line": "unreadable line: ",
    }
    rows = query(
        warehouse,
        "select rejection_code, rejection_reason from analytics.survey_response_quarantine",
    )
    assert {code for code, _ in rows} == set(starts)  # the bad rows of the demo feed, and ours
    assert all(reason.startswith(starts[code]) for code, reason in rows), rows


def test_an_attribute_of_another_type_stops_the_updates_not_the_events(
    warehouse: Path, running: RunningSandbox
) -> None:
    requests.post(
        f"{running.base_url}/data_attributes",
        json={"name": "survey_score", "model": "contact", "data_type": "string"},
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/json"},
        timeout=30,
    ).raise_for_status()
    report = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    reasons = {reason for key, _, reason in report.failures}
    assert reasons == {
        "the contact attributes are not ready: the contact attribute 'survey_score' exists in "
        f"workspace {running.sandbox.workspace.app_id} as string, not integer: rename ours with "
        "the matching INTERCOM_PUSH_*_ATTRIBUTE variable, or change theirs in Intercom"
    }
    assert report.failed == len(profiles(warehouse))
    assert all(key.startswith("attributes:") for key, _, _ in report.failures)
    events = query(
        warehouse,
        "select (select count(*) from analytics.survey_sends)"
        " + (select count(*) from analytics.survey_responses)",
    )[0][0]
    assert report.sent == events
    assert not any(w["path"].startswith("/contacts/") for w in writes(running))


def test_an_archived_attribute_of_ours_is_named(warehouse: Path, running: RunningSandbox) -> None:
    requests.post(
        f"{running.base_url}/data_attributes",
        json={"name": "survey_category", "model": "contact", "data_type": "string"},
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/json"},
        timeout=30,
    ).raise_for_status()
    ws = running.sandbox.workspace
    with ws.lock:
        ws.contact_attribute("survey_category").archived = True
        ws.changed()
    report = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    assert report.failed == len(profiles(warehouse))
    assert {reason for _, _, reason in report.failures} == {
        "the contact attributes are not ready: the contact attribute 'survey_category' is "
        f"archived in workspace {ws.app_id}: unarchive it in Intercom (Settings > Data > People), "
        "or rename ours with the matching INTERCOM_PUSH_*_ATTRIBUTE variable"
    }
    created = [w["body"]["name"] for w in writes(running) if w["path"] == "/data_attributes"]
    assert "survey_category" not in created[1:]  # ours (the first) only: no failing create


def test_a_newer_answer_moves_the_values_and_sends_only_that(
    built_warehouse: Path, tmp_path: Path, running: RunningSandbox
) -> None:
    from intercom_pipeline.definitions import defs

    shutil.copyfile(built_warehouse, tmp_path / "intercom.duckdb")
    shutil.copytree(built_warehouse.parent / "feed", tmp_path / "feed")
    warehouse = tmp_path / "intercom.duckdb"
    first = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    contact_id, score, _, answered = profiles(warehouse)[0]
    assert answered < datetime(2026, 10, 31, 12)
    new_score = 0 if score else 10
    (tmp_path / "feed" / "later.csv").write_text(
        "contact_id,metric,score,comment,responded_at\n"
        f"{contact_id},NPS,{new_score},changed my mind,2026-10-31T12:00:00Z\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        for key, value in build_environment(tmp_path, tmp_path / "feed", running.base_url).items():
            patch.setenv(key, value)
        build(
            defs(),
            dg.AssetSelection.assets(dg.AssetKey(["survey_feed", "responses"])).downstream(),
        )
    before = len(writes(running))
    second = push_survey_results(Warehouse.at(warehouse), workspaces(running), PushSettings())
    sent = writes(running)[before:]
    assert sorted((w["method"], w["path"]) for w in sent) == [
        ("POST", "/events"),
        ("PUT", f"/contacts/{contact_id}"),
    ]
    event = next(w["body"] for w in sent if w["path"] == "/events")
    assert (event["id"], event["event_name"], event["created_at"]) == (
        contact_id,
        "survey-response",
        int(datetime(2026, 10, 31, 12, tzinfo=UTC).timestamp()),
    )
    assert (second.sent, second.unchanged) == (2, first.sent - 1)
    attributes = get(running, f"/contacts/{contact_id}")["custom_attributes"]
    assert attributes["survey_score"] == new_score
    assert attributes["survey_comment"] == "changed my mind"
    assert attributes["survey_category"] == ("detractor" if new_score == 0 else "promoter")
    assert attributes["survey_metric"] == "NPS"
