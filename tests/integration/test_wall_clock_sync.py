"""Against a sandbox whose clock follows the machine's: an incremental sync picks up exactly
what changed since the last one, as it would on a live workspace."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.warehouse.load import RAW_DATASET
from intercom_sandbox import RunningSandbox, SandboxConfig
from tests.conftest import SandboxClient
from tests.integration.test_ingestion import ingest

# The kinds of change that touch a conversation's updated_at.
CONVERSATION_CHANGES = ("new_conversations", "replied", "closed", "reopened", "tagged")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Two hours of a busy workspace's activity every second.
    return SandboxConfig(seed=2, scale="tiny", clock="wall", activity_speed=7_200)


def changed_between(intercom: SandboxClient, since: int, until: int) -> dict[str, set[str]]:
    changes = intercom.control("GET", f"/changes?since={since}&until={until}")["changes"]
    conversations = {i for kind in CONVERSATION_CHANGES for i in changes[kind]}
    deleted = set(changes["deleted_conversations"])
    return {
        "conversations": conversations - deleted,
        "deleted": deleted,
        "activity_logs": set(changes["activity_logs"]),
    }


def loaded_by_the_last_run(warehouse: Path, table: str, where: str = "true") -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select id from {RAW_DATASET}.{table} where {where} and _dlt_load_id = "
            f"(select max(_dlt_load_id) from {RAW_DATASET}.{table})"
        ).fetchall()
    return {row[0] for row in rows}


def stored_ids(warehouse: Path, table: str, where: str = "true") -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(f"select id from {RAW_DATASET}.{table} where {where}").fetchall()
    return {row[0] for row in rows}


def now(intercom: SandboxClient) -> int:
    """The workspace's clock, once an Intercom request has moved it to the machine's second."""
    intercom.get("/me").raise_for_status()
    return intercom.control("GET", "/status")["workspace"]["now"]


def test_an_incremental_sync_picks_up_exactly_what_changed(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    ws = running_sandbox.sandbox.workspace
    # The generated history ends at the machine's clock.
    assert abs(max(c.created_at for c in ws.conversations) - time.time()) < 3 * 86_400
    assert now(intercom) <= time.time() + 1
    # Without overlap the second run reads exactly the conversations changed after the newest
    # one the first run saw: those the sandbox changed after the first search.
    ingest(running_sandbox, tmp_path, lookback_seconds=0)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        mark = conn.execute(
            f"select epoch(max(updated_at))::bigint from {RAW_DATASET}.conversations"
        ).fetchone()[0]
    first_loaded = stored_ids(warehouse, "conversations")
    time.sleep(2)
    before_second = now(intercom)
    ingest(running_sandbox, tmp_path, lookback_seconds=0)
    after_second = now(intercom)

    surely = changed_between(intercom, mark, before_second)
    at_most = changed_between(intercom, mark, after_second)
    assert surely["conversations"]
    conversations = loaded_by_the_last_run(warehouse, "conversations")
    # (A conversation deleted once the second run began is not in its search.)
    assert surely["conversations"] - at_most["deleted"] <= conversations
    assert conversations <= at_most["conversations"] | at_most["deleted"]
    # Deletions: every one made before the second run is marked, none made after it ended.
    marked = stored_ids(warehouse, "deletions", "object_type = 'conversation'")
    assert changed_between(intercom, 0, before_second)["deleted"] <= marked
    assert marked <= changed_between(intercom, 0, after_second)["deleted"]
    assert surely["deleted"] and surely["activity_logs"]
    assert surely["activity_logs"] <= stored_ids(warehouse, "admin_activity_logs")
    # Every conversation ever loaded is still there, the deleted ones marked, not removed.
    stored = stored_ids(warehouse, "conversations")
    assert stored >= first_loaded | (set(ws.conversation_by_id) - at_most["conversations"])
    assert marked & first_loaded
