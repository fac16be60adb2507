"""Loading the in-process sandbox into a temporary warehouse with the dlt source."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import RAW_TABLES, connect
from intercom_pipeline.sources.intercom.client import IntercomAuthError
from intercom_pipeline.sources.intercom.tables import TABLE_NAME_WIDTH
from intercom_pipeline.warehouse import Warehouse, quality
from intercom_pipeline.warehouse.load import (
    RAW_DATASET,
    CoreTypeChanged,
    run_ingestion,
    table_counts,
)
from intercom_sandbox import RunningSandbox, SandboxConfig
from intercom_sandbox.generate_extras import handling_events
from intercom_sandbox.routes import companies as company_routes
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient

# Intercom's one-minute scroll expiry and the 61-second conflict wait, compressed: a scroll broken
# by a failed page is still open until it expires, so the restart must wait longer than that.
SCROLL_EXPIRY = 0.5
SCROLL_CONFLICT_WAIT = 0.6


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=5, scale="tiny", scroll_expiry_seconds=SCROLL_EXPIRY)


def warehouse_in(tmp_path: Path) -> Warehouse:
    """The warehouse `ingest` loads into."""
    return Warehouse.at(tmp_path / "warehouse.duckdb")


def ingest(running: RunningSandbox, tmp_path: Path, **options: object):
    settings = intercom_settings(
        {
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": "sandbox-token",
        }
    )
    workspaces = connect([settings], backoff_seconds=0.01, max_rate_limit_wait=11)
    return run_ingestion(
        warehouse_in(tmp_path),
        workspaces,
        scroll_conflict_wait=SCROLL_CONFLICT_WAIT,
        **options,
    )


def load_move_load(
    running: RunningSandbox, intercom: SandboxClient, tmp_path: Path, activity: dict
) -> dict:
    """Load, move the sandbox clock an hour with this activity, load again; returns the changes."""
    ingest(running, tmp_path)
    changes = intercom.control("POST", "/clock/advance", {"seconds": 3600, "activity": activity})[
        "changes"
    ]
    ingest(running, tmp_path)
    return changes


def expected_counts(ws: Workspace) -> dict[str, int]:
    contacts = ws.visible_contacts()
    return {
        "admins": len(ws.admins),
        "teams": len(ws.teams),
        "team_admins": sum(len(t.admin_ids) for t in ws.teams),
        "tags": len(ws.tags),
        "segments": len(ws.segments),
        "data_attributes": len(ws.data_attributes),
        "ticket_types": len(ws.ticket_types),
        "ticket_states": len(ws.ticket_states),
        "admin_activity_logs": len(ws.activity_logs),
        "help_centers": len(ws.help_centers),
        "collections": len(ws.collections),
        "articles": len(ws.articles),
        "companies": len(ws.visible_companies()),
        "contacts": len(contacts),
        "contact_tags": sum(len(c.tags) for c in contacts),
        "contact_companies": sum(len(c.company_ids) for c in contacts),
        "conversations": len(ws.conversations),
        "conversation_parts": sum(min(len(c.parts), 500) for c in ws.conversations),
        "conversation_contacts": sum(len(c.contact_ids) for c in ws.conversations),
        "conversation_handling_events": sum(
            len(handling_events(ws, c)) for c in ws.conversations if c.admin_assignee_id
        ),
        "conversation_content_sources": sum(
            len(c.ai_agent.content_sources) for c in ws.conversations if c.ai_agent
        ),
        "tickets": len(ws.tickets),
        "ticket_parts": sum(len(t.parts) for t in ws.tickets),
        "deletions": 0,
    }


def fingerprint(warehouse: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows (without dlt's own columns), sorted: equal means same content."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for table in RAW_TABLES:
            columns = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? and column_name not like '\\_dlt%' escape '\\' "
                    "order by column_name",
                    [RAW_DATASET, table],
                ).fetchall()
            ]
            if table == "deletions":
                columns = [c for c in columns if c != "deleted_at"]
            quoted = ", ".join(f"coalesce(\"{c}\"::varchar, '<null>')" for c in columns)
            out[table] = sorted(
                conn.execute(f"select {quoted} from {RAW_DATASET}.{table}").fetchall()
            )
    return out


def test_full_load_is_exactly_the_sandbox(running_sandbox: RunningSandbox, tmp_path: Path) -> None:
    ws = running_sandbox.sandbox.workspace
    result = ingest(running_sandbox, tmp_path)
    assert table_counts(warehouse_in(tmp_path)) == expected_counts(ws)
    # Rows loaded are the rows stored: link tables' parent markers (never stored) left out.
    assert result.rows_loaded == expected_counts(ws)
    assert result.api["api_calls"] > len(ws.conversations)  # one detail call per conversation
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        ids = conn.execute(
            f"select distinct workspace_id from {RAW_DATASET}.conversations"
        ).fetchall()
        assert ids == [(ws.app_id,)]
        typed = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = 'conversations'",
                [RAW_DATASET],
            ).fetchall()
        )
        assert typed["created_at"] == "TIMESTAMP WITH TIME ZONE"
        assert typed["id"] == "VARCHAR"
        assert typed["admin_assignee_id"] == "BIGINT"
        assert typed["custom_attributes"] == "JSON"
        huge = [c for c in ws.conversations if len(c.parts) > 500]
        flagged = conn.execute(
            f"select id, count_parts_total from {RAW_DATASET}.conversations where parts_truncated_by_api"
        ).fetchall()
        assert sorted(flagged) == sorted((c.id, len(c.parts)) for c in huge)
        gaps = quality.conversation_parts_gaps(conn)
        assert len(gaps) == len(huge)
        assert all(g.truncated_by_api and g.loaded == 500 for g in gaps)


def test_second_run_without_changes_writes_nothing_new(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    first = ingest(running_sandbox, tmp_path)
    before = fingerprint(tmp_path / "warehouse.duckdb")
    second = ingest(running_sandbox, tmp_path)
    assert fingerprint(tmp_path / "warehouse.duckdb") == before
    # The incremental reads only revisit their lookback window.
    assert second.api["api_calls"] < first.api["api_calls"] / 5


def test_after_the_clock_moves_only_changes_are_fetched(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    ingest(running_sandbox, tmp_path)
    ws = running_sandbox.sandbox.workspace
    last_seen = max(c.updated_at for c in ws.conversations)
    in_lookback = {c.id for c in ws.conversations if c.updated_at > last_seen - 600}
    moved = intercom.control(
        "POST",
        "/clock/advance",
        {
            "seconds": 7200,
            "activity": {"new_conversations": 4, "closes": 2, "reopens": 1, "contact_updates": 3},
        },
    )["changes"]
    intercom.control("POST", "/stats/reset")
    result = ingest(running_sandbox, tmp_path)
    changed = set(moved["new_conversations"] + moved["closed"] + moved["reopened"])
    calls = intercom.control("GET", "/stats")["calls"]
    # Parts are fetched for changed conversations, plus those inside the 10-minute lookback.
    assert calls["GET /conversations/{id}"] == len(changed | in_lookback)
    assert result.rows_loaded["conversations"] == len(changed | in_lookback)
    assert table_counts(warehouse_in(tmp_path)) == expected_counts(ws)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        states = dict(
            conn.execute(
                f"select id, state from {RAW_DATASET}.conversations where id in ({', '.join('?' * len(changed))})",
                list(changed),
            ).fetchall()
        )
    assert states == {i: ws.conversation_by_id[i].state for i in changed}


def test_deleted_and_merged_contacts_are_marked_not_removed(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    moved = load_move_load(
        running_sandbox,
        intercom,
        tmp_path,
        {"contact_deletions": 2, "company_deletions": 1, "merges": 1},
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        marked = set(
            conn.execute(
                f"select object_type, id from {RAW_DATASET}.deletions where deleted_at is not null"
            ).fetchall()
        )
        still_there = conn.execute(
            f"select count(*) from {RAW_DATASET}.contacts where id in (?, ?)",
            moved["deleted_contacts"],
        ).fetchone()[0]
    assert marked == (
        {("contact", i) for i in moved["deleted_contacts"] + moved["merged_contacts"]}
        | {("company", i) for i in moved["deleted_companies"]}
    )
    assert still_there == 2


def test_deleted_conversations_are_marked_with_intercoms_time_not_removed(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    ws = running_sandbox.sandbox.workspace
    moved = load_move_load(running_sandbox, intercom, tmp_path, {"conversation_deletions": 3})
    gone = moved["deleted_conversations"]
    assert len(gone) == 3
    listed = intercom.get("/conversations/deleted", params={"per_page": 60}).json()["conversations"]
    deleted_at = {c["id"]: c["deleted_at"] for c in listed}
    query = (
        f"select id, epoch(deleted_at)::bigint, metrics_retained from {RAW_DATASET}.deletions"
        " where object_type = 'conversation'"
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        marked = conn.execute(query).fetchall()
        kept = conn.execute(
            f"select count(*) from {RAW_DATASET}.conversations where id in (?, ?, ?)", gone
        ).fetchone()[0]
    assert {(i, at) for i, at, _ in marked} == {(i, deleted_at[i]) for i in gone}
    assert {retained for _, _, retained in marked} <= {True, False}
    assert kept == 3
    assert not set(gone) & set(ws.conversation_by_id)
    # The next run asks for one page of the list and marks nothing again.
    intercom.control("POST", "/stats/reset")
    again = ingest(running_sandbox, tmp_path)
    assert intercom.control("GET", "/stats")["calls"]["GET /conversations/deleted"] == 1
    assert again.rows_loaded["deletions"] == 0


def test_admin_activity_logs_are_read_from_the_last_one_stored(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    ws = running_sandbox.sandbox.workspace
    ingest(running_sandbox, tmp_path)
    newest = max(log["created_at"] for log in ws.activity_logs)
    moved = intercom.control(
        "POST", "/clock/advance", {"seconds": 3600, "activity": {"activity_logs": 7}}
    )["changes"]
    assert len(moved["activity_logs"]) == 7
    intercom.control("POST", "/stats/reset")
    result = ingest(running_sandbox, tmp_path)
    # The 7 new logs, and those inside the 10-minute lookback (merged on id, not duplicated).
    in_window = [log for log in ws.activity_logs if log["created_at"] > newest - 600]
    assert result.rows_loaded["admin_activity_logs"] == len(in_window)
    assert intercom.control("GET", "/stats")["calls"]["GET /admins/activity_logs"] == 1
    assert table_counts(warehouse_in(tmp_path))["admin_activity_logs"] == len(ws.activity_logs)


def test_a_deletion_is_marked_once_and_its_mark_kept(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    """DuckDB's comparison leaves out ids already marked: a later run adds no deletion rows."""
    moved = load_move_load(
        running_sandbox, intercom, tmp_path, {"contact_deletions": 3, "company_deletions": 2}
    )
    query = f"select object_type, id, deleted_at from {RAW_DATASET}.deletions order by all"
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        marked = conn.execute(query).fetchall()
    result = ingest(running_sandbox, tmp_path)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute(query).fetchall() == marked
    assert result.rows_loaded["deletions"] == 0
    assert {(t, i) for t, i, _ in marked} == {("contact", i) for i in moved["deleted_contacts"]} | {
        ("company", i) for i in moved["deleted_companies"]
    }


def test_a_custom_attribute_type_change_is_reported_and_nothing_lost(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    moved = load_move_load(
        running_sandbox,
        intercom,
        tmp_path,
        {"attribute_type_change": {"name": "seats", "to": "string", "contacts": 3}},
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        drifts = quality.custom_attribute_drift(conn)
        values = conn.execute(
            f"select custom_attributes->>'seats' from {RAW_DATASET}.contacts where id in (?, ?, ?)",
            moved["retyped_attribute"]["contacts"],
        ).fetchall()
    # data_attributes now declare string: the old integer values are the ones that differ
    assert [d.column for d in drifts] == ["custom_attributes.seats"]
    assert drifts[0].table == "contacts" and drifts[0].declared == "string"
    assert (
        "contacts.custom_attributes.seats: declared string, received integer in "
        in drifts[0].describe()
    )
    assert all(v[0] and "(" in v[0] for v in values)  # the new string values are stored whole


def test_storms_of_faults_are_survived(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Companies the listing cannot reach go through the scroll, refused once (scroll_exists).
    monkeypatch.setattr(company_routes, "COMPANIES_LIST_REACH", 0)
    intercom.control("PUT", "/rate_limit", {"per_minute": 1200})  # 200 per 10-second window
    intercom.control(
        "PUT",
        "/faults",
        {
            "error_rate": 0.1,
            "drop_rate": 0.05,
            "truncate_rate": 0.05,
            "scroll_exists": 1,
        },
    )
    ingest(running_sandbox, tmp_path)
    stats = intercom.control("GET", "/stats")
    assert stats["scroll_conflicts"] >= 1
    assert (
        stats["statuses"].get("500", 0)
        + stats["statuses"].get("502", 0)
        + stats["statuses"].get("503", 0)
        > 0
    )
    assert table_counts(warehouse_in(tmp_path)) == expected_counts(
        running_sandbox.sandbox.workspace
    )


def test_a_429_storm_from_another_app_is_waited_out(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    """Another client spends the shared budget; the sync waits for each window and completes."""
    import threading

    intercom.control("PUT", "/rate_limit", {"per_minute": 1200})  # 200 per 10-second window
    stop = threading.Event()

    def competitor() -> None:
        while not stop.is_set():
            intercom.get("/tags")

    thread = threading.Thread(target=competitor, daemon=True)
    thread.start()
    try:
        result = ingest(
            running_sandbox, tmp_path, tables=["admins", "conversations", "conversation_parts"]
        )
    finally:
        stop.set()
        thread.join()
    assert result.api["rate_limited"] > 0
    ws = running_sandbox.sandbox.workspace
    counts = table_counts(
        warehouse_in(tmp_path),
        ("admins", "conversations", "conversation_parts"),
    )
    expected = expected_counts(ws)
    assert counts == {t: expected[t] for t in counts}


def test_two_workspaces_load_side_by_side(tmp_path: Path) -> None:
    from intercom_sandbox import Sandbox

    with (
        RunningSandbox(Sandbox(SandboxConfig(seed=5, scale="tiny"))) as one,
        RunningSandbox(Sandbox(SandboxConfig(seed=6, scale="tiny"))) as two,
    ):
        environ = {
            "INTERCOM_WORKSPACES": "acme,globex",
            "INTERCOM_ACME_BASE_URL": one.base_url,
            "INTERCOM_ACME_ACCESS_TOKEN": "sandbox-token",
            "INTERCOM_GLOBEX_BASE_URL": two.base_url,
            "INTERCOM_GLOBEX_ACCESS_TOKEN": "sandbox-token",
        }
        from intercom_pipeline.defs.resources import resources_from_environment

        intercom = resources_from_environment(environ, resolved=True)["intercom"]
        workspaces = intercom.connect(backoff_seconds=0.01)
        run_ingestion(Warehouse.at(tmp_path / "w.duckdb"), workspaces, ["admins", "conversations"])
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
            per_workspace = dict(
                conn.execute(
                    f"select workspace_id, count(*) from {RAW_DATASET}.conversations group by 1"
                ).fetchall()
            )
        assert per_workspace == {
            one.sandbox.workspace.app_id: len(one.sandbox.workspace.conversations),
            two.sandbox.workspace.app_id: len(two.sandbox.workspace.conversations),
        }


def test_hourly_run_brings_the_contacts_and_companies_of_changed_conversations(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    ingest(running_sandbox, tmp_path)
    ws = running_sandbox.sandbox.workspace
    # The first hourly run looks back to each table's last full read (its newest updated_at).
    contact_mark = max(c.updated_at for c in ws.visible_contacts()) - 600
    company_mark = max(c.updated_at for c in ws.visible_companies()) - 600
    intercom.control(
        "POST",
        "/clock/advance",
        {"seconds": 3600, "activity": {"new_conversations": 3, "contact_updates": 5}},
    )
    intercom.control("POST", "/stats/reset")
    result = ingest(
        running_sandbox,
        tmp_path,
        related_only=True,
        tables=["conversations", "contacts", "companies"],
    )
    related_contacts = {
        cid
        for c in ws.conversations
        if c.updated_at > contact_mark
        for cid in c.contact_ids
        if ws.contact_by_id[cid].visible
    }
    related_companies = {
        c.company_id for c in ws.conversations if c.updated_at > company_mark and c.company_id
    }
    assert result.rows_loaded["contacts"] == len(related_contacts)
    assert result.rows_loaded["companies"] == len(related_companies)
    calls = intercom.control("GET", "/stats")["calls"]
    assert "GET /companies/scroll" not in calls  # no full company read in the hourly run


# More than one scroll page (50) of companies, and contacts with more than ten companies.
DEMO = SandboxConfig(seed=5, scale="demo", scroll_expiry_seconds=SCROLL_EXPIRY)


def stored_ids(warehouse: Path, table: str) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return sorted(
            r[0] for r in conn.execute(f"select id from {RAW_DATASET}.{table}").fetchall()
        )


@pytest.mark.parametrize("sandbox_config", [DEMO])
def test_a_cut_scroll_page_restarts_the_scroll_and_loses_no_company(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each scroll page moves the scroll on: sending one again would skip it, so none is resent."""
    monkeypatch.setattr(company_routes, "COMPANIES_LIST_REACH", 0)  # companies by the scroll
    live = sorted(c.id for c in running_sandbox.sandbox.workspace.visible_companies())
    assert len(live) > 50
    intercom.control("PUT", "/faults", {"truncate_scroll_pages": 2})
    ingest(running_sandbox, tmp_path, tables=["companies"])
    assert intercom.control("GET", "/status")["faults"]["truncate_scroll_pages"] == 0
    assert stored_ids(tmp_path / "warehouse.duckdb", "companies") == live

    # The deletions reconciliation reads the scroll too: a cut page there marks nothing deleted.
    intercom.control("PUT", "/faults", {"truncate_scroll_pages": 1})
    result = ingest(running_sandbox, tmp_path, tables=["deletions"])
    assert intercom.control("GET", "/status")["faults"]["truncate_scroll_pages"] == 0
    assert result.rows_loaded["deletions"] == 0
    assert table_counts(warehouse_in(tmp_path), ("deletions",)) == {"deletions": 0}


def test_an_implausible_reconciliation_is_refused_alone_and_accepted_for_one_run(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Refusing marks none and fails nothing: companies still load, and the refusal is named."""
    from intercom_pipeline import cli

    ws = running_sandbox.sandbox.workspace
    ingest(running_sandbox, tmp_path, tables=["companies"])
    moved = intercom.control(
        "POST", "/clock/advance", {"seconds": 3600, "activity": {"company_deletions": 20}}
    )["changes"]
    with caplog.at_level("WARNING"):
        refused = ingest(running_sandbox, tmp_path, tables=["admins", "companies", "deletions"])
    assert refused.deletions_refused == {"default": {"companies": {"missing": 20, "stored": 30}}}
    assert "companies: 20 of the 30 ids stored for workspace" in caplog.text
    assert "--accept-mass-deletions" in caplog.text
    assert refused.rows_loaded == {
        "admins": len(ws.admins),
        "companies": len(ws.visible_companies()),
        "deletions": 0,
    }
    assert table_counts(warehouse_in(tmp_path), ("admins", "deletions")) == {
        "admins": len(ws.admins),
        "deletions": 0,
    }
    # Deleted for real: `ingest --accept-mass-deletions` marks every one, for that run.
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "sandbox-token")
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    capsys.readouterr()
    assert cli.main(["ingest", "--accept-mass-deletions", "deletions"]) == 0
    assert f"  {'deletions':<{TABLE_NAME_WIDTH}} {20:>8}" in capsys.readouterr().out
    assert stored_ids(tmp_path / "warehouse.duckdb", "deletions") == sorted(
        moved["deleted_companies"]
    )


def test_a_core_column_type_change_stops_every_sync_until_accepted(
    running_sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With stop, dlt refuses the change before storing anything; one report run accepts it."""
    from intercom_pipeline import cli

    ws = running_sandbox.sandbox.workspace
    ingest(running_sandbox, tmp_path, tables=["admins"], stop_on_type_change=True)
    admin = ws.admins[0]
    stored_value = admin.away_mode_enabled
    with ws.lock:
        admin.away_mode_enabled = "sometimes"  # type: ignore[assignment]
        ws.changed()
    query = f"select * from {RAW_DATASET}.admins where id = ?"
    for _ in range(2):  # nothing stored, so the next sync meets the same change
        with pytest.raises(CoreTypeChanged) as stopped:
            ingest(running_sandbox, tmp_path, tables=["admins"], stop_on_type_change=True)
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
            row = conn.execute(query, [admin.id]).fetchone()
            columns = [d[0] for d in conn.description]
        assert dict(zip(columns, row, strict=True))["away_mode_enabled"] is stored_value
        assert "away_mode_enabled__v_text" not in columns
    message = str(stopped.value)
    assert message.startswith("admins.away_mode_enabled: stored as bool, Intercom now sends text")
    assert "run one sync with INTERCOM_ON_TYPE_CHANGE=report" in message
    assert "admins.away_mode_enabled__v_text" in message
    # The CLI says the same in one line, not a dlt traceback.
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "sandbox-token")
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("INTERCOM_ON_TYPE_CHANGE", "stop")
    capsys.readouterr()
    assert cli.main(["ingest", "admins"]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}\n" in err and "Traceback" not in err
    # Accepted: the report run keeps the new value beside the old column ...
    ingest(running_sandbox, tmp_path, tables=["admins"])
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute(
            f"select away_mode_enabled__v_text from {RAW_DATASET}.admins where id = ?",
            [admin.id],
        ).fetchone() == ("sometimes",)
    # ... and stop mode syncs again.
    again = ingest(running_sandbox, tmp_path, tables=["admins"], stop_on_type_change=True)
    assert again.rows_loaded == {"admins": len(ws.admins)}


def test_a_contact_whose_last_tag_is_removed_loses_its_contact_tags_rows(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    ws = running_sandbox.sandbox.workspace
    tables = ["contacts", "contact_tags"]
    ingest(running_sandbox, tmp_path, tables=tables)
    contact = next(c for c in ws.visible_contacts() if len(c.tags) == 1)
    (tag,) = contact.tags
    intercom.delete(f"/contacts/{contact.id}/tags/{tag.tag_id}").raise_for_status()
    ingest(running_sandbox, tmp_path, tables=tables)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        left = conn.execute(
            f"select count(*) from {RAW_DATASET}.contact_tags where contact_id = ?", [contact.id]
        ).fetchone()[0]
        markers = conn.execute(
            f"select count(*) from {RAW_DATASET}.contact_tags where parent_marker is not null"
        ).fetchone()[0]
    assert (left, markers) == (0, 0)  # the marker rows that replaced them are not stored either
    expected = expected_counts(ws)
    assert table_counts(warehouse_in(tmp_path), tables) == {t: expected[t] for t in tables}


@pytest.mark.parametrize("sandbox_config", [DEMO])
def test_every_company_of_a_contact_is_loaded_page_by_page(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    """Contacts embed ten companies at most; the rest come from /contacts/{id}/companies (paged)."""
    ws = running_sandbox.sandbox.workspace
    truncated = [c for c in ws.visible_contacts() if len(c.company_ids) > 10]
    assert truncated  # the fixture has contacts whose embedded list Intercom cuts short
    crowded = next(c for c in ws.visible_contacts() if c.role == "user" and c not in truncated)
    with ws.lock:
        crowded.company_ids = [c.id for c in ws.visible_companies()[:60]]  # two pages of 50
        crowded.updated_at = ws.now
        ws.changed()
    tables = ["contacts", "contact_companies"]
    ingest(running_sandbox, tmp_path, tables=tables)
    calls = intercom.control("GET", "/stats")["calls"]
    assert calls["GET /contacts/{id}/companies"] == len(truncated) + 2
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        loaded = conn.execute(
            f"select contact_id, list(company_id order by company_id) "
            f"from {RAW_DATASET}.contact_companies group by 1"
        ).fetchall()
    companies_of = dict(loaded)
    for contact in [*truncated, crowded]:
        assert companies_of[contact.id] == sorted(contact.company_ids)
    expected = expected_counts(ws)
    assert table_counts(warehouse_in(tmp_path), tables) == {t: expected[t] for t in tables}


def test_a_module_the_plan_lacks_is_skipped_and_named(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 403 api_plan_restricted skips that table only, every run, until the plan includes it."""
    ws = running_sandbox.sandbox.workspace
    intercom.control("PUT", "/restrictions", {"modules": ["tickets"]})
    with caplog.at_level("WARNING"):
        result = ingest(running_sandbox, tmp_path)
    # The ticket types and states belong to the same module.
    assert result.modules_unavailable == {"default": ["ticket_states", "ticket_types", "tickets"]}
    assert "Skipping tickets for workspace default: its Intercom plan does not include" in (
        caplog.text
    )
    expected = expected_counts(ws)
    assert table_counts(warehouse_in(tmp_path)) == {
        **expected,
        "tickets": 0,
        "ticket_parts": 0,
        "ticket_types": 0,
        "ticket_states": 0,
    }
    intercom.control("PUT", "/restrictions", {"modules": []})
    assert ingest(running_sandbox, tmp_path).modules_unavailable == {}
    assert table_counts(warehouse_in(tmp_path)) == expected


def test_a_plan_without_handling_events_skips_them_after_one_call(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first refusal names the table; the rest of the run asks no more."""
    ws = running_sandbox.sandbox.workspace
    intercom.control("PUT", "/restrictions", {"modules": ["handling_events"]})
    with caplog.at_level("WARNING"):
        result = ingest(running_sandbox, tmp_path)
    assert result.modules_unavailable == {"default": ["conversation_handling_events"]}
    assert "Skipping conversation_handling_events for workspace default" in caplog.text
    calls = intercom.control("GET", "/stats")["calls"]
    assert calls["GET /conversations/{id}/handling_events"] == 1
    assert table_counts(warehouse_in(tmp_path)) == {
        **expected_counts(ws),
        "conversation_handling_events": 0,
    }
    intercom.control("PUT", "/restrictions", {"modules": []})


def test_a_rejected_token_still_fails_the_whole_run(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": running_sandbox.base_url, "INTERCOM_ACCESS_TOKEN": "revoked"}
    )
    with pytest.raises(PipelineStepFailed, match="401") as failed:
        run_ingestion(
            warehouse_in(tmp_path),
            connect([settings], backoff_seconds=0.01),
            ["tickets"],
        )
    cause: BaseException | None = failed.value
    while cause is not None and not isinstance(cause, IntercomAuthError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, IntercomAuthError)
    assert "revoked" in str(cause) and "INTERCOM_ACCESS_TOKEN" in str(cause)


def test_the_lookback_is_configurable_and_contacts_keep_a_day(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERCOM_LOOKBACK_SECONDS", "0")
    ingest(running_sandbox, tmp_path)
    intercom.control("POST", "/stats/reset")
    again = ingest(running_sandbox, tmp_path)
    calls = intercom.control("GET", "/stats")["calls"]
    assert "GET /conversations/{id}" not in calls  # 600 s would re-read the newest at least
    assert again.rows_loaded["conversations"] == 0
    # Contact search matches whole days: a lookback under a day would find none of them again.
    assert again.rows_loaded["contacts"] > 0


def test_stop_on_type_change_fires_once_in_the_cli(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`intercom-pipeline ingest` honours INTERCOM_ON_TYPE_CHANGE=stop, for new changes only."""
    from intercom_pipeline import cli

    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "sandbox-token")
    monkeypatch.setenv("INTERCOM_ON_TYPE_CHANGE", "stop")
    tables = ["data_attributes", "contacts"]
    assert cli.main(["ingest", *tables]) == 0
    intercom.control(
        "POST",
        "/clock/advance",
        {
            "seconds": 3600,
            "activity": {"attribute_type_change": {"name": "seats", "to": "string", "contacts": 2}},
        },
    )
    capsys.readouterr()
    assert cli.main(["ingest", *tables]) == 1
    assert "contacts.custom_attributes.seats: declared string, received integer" in (
        capsys.readouterr().err
    )
    assert cli.main(["ingest", *tables]) == 0
