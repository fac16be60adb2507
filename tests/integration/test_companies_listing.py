"""Companies read by the pages of GET /companies where they reach every company, else scrolled."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.client import IntercomClient
from intercom_pipeline.warehouse.load import RAW_DATASET
from intercom_sandbox import RunningSandbox, SandboxConfig
from intercom_sandbox.routes import companies as company_routes
from tests.conftest import SandboxClient
from tests.integration.test_ingestion import SCROLL_EXPIRY, ingest, stored_ids

DEMO_COMPANIES = 300  # five pages of 60, six of the scroll's 50


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=5, scale="demo", scroll_expiry_seconds=SCROLL_EXPIRY)


def live_ids(running: RunningSandbox) -> list[str]:
    return sorted(c.id for c in running.sandbox.workspace.visible_companies())


def company_calls(intercom: SandboxClient) -> dict[str, int]:
    calls = intercom.control("GET", "/stats")["calls"]
    return {
        endpoint: calls.get(endpoint, 0) for endpoint in ("GET /companies", "GET /companies/scroll")
    }


def test_a_workspace_the_listing_reaches_is_read_by_pages_without_the_scroll(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    result = ingest(running_sandbox, tmp_path, tables=["companies", "deletions"])
    assert stored_ids(tmp_path / "warehouse.duckdb", "companies") == live_ids(running_sandbox)
    assert result.rows_loaded["deletions"] == 0  # the reconciliation's listing was complete too
    # Each read (the companies, then the deletions' live ids): its total_count before and after,
    # and five pages of 60.
    assert company_calls(intercom) == {"GET /companies": 2 * (2 + 5), "GET /companies/scroll": 0}


def test_a_workspace_over_the_listing_reach_is_scrolled(
    running_sandbox: RunningSandbox, intercom: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intercom's reach (10,000) lowered on both sides, as if the workspace had more."""
    monkeypatch.setattr(company_routes, "COMPANIES_LIST_REACH", 100)
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": running_sandbox.base_url, "INTERCOM_ACCESS_TOKEN": "sandbox-token"}
    )
    with helpers.spooled_companies(IntercomClient(settings), listing_reach=100) as spool:
        ids = sorted(c["id"] for page in helpers.spooled_pages(spool, 150) for c in page)
    assert ids == live_ids(running_sandbox)
    # One total_count, then the scroll's six pages and the empty one that ends it.
    assert company_calls(intercom) == {"GET /companies": 1, "GET /companies/scroll": 7}


def test_a_listing_that_comes_back_short_falls_back_to_the_scroll(
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Intercom's pages reach fewer companies than the pipeline expects: 100 of 300."""
    monkeypatch.setattr(company_routes, "COMPANIES_LIST_REACH", 100)
    with caplog.at_level(logging.WARNING, logger=helpers.__name__):
        ingest(running_sandbox, tmp_path, tables=["companies"])
    assert stored_ids(tmp_path / "warehouse.duckdb", "companies") == live_ids(running_sandbox)
    assert (
        f"GET /companies listed 100 distinct companies of the {DEMO_COMPANIES} it reported"
        in caplog.text
    )
    assert company_calls(intercom) == {"GET /companies": 2 + 2, "GET /companies/scroll": 7}


def stored_companies(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(
            f"select * exclude (_dlt_load_id, _dlt_id) from {RAW_DATASET}.companies order by id"
        ).fetchall()


def test_a_sync_under_faults_loads_the_same_companies_as_a_clean_one(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    tables = ["companies", "deletions"]
    clean = ingest(running_sandbox, tmp_path / "clean", tables=tables)
    faults = {"error_rate": 0.1, "drop_rate": 0.05, "truncate_rate": 0.05}
    intercom.control("PUT", "/faults", faults)
    faulty = ingest(running_sandbox, tmp_path / "faulty", tables=tables)
    assert faulty.api["retries"] > 0
    assert len(stored_companies(tmp_path / "clean" / "warehouse.duckdb")) == DEMO_COMPANIES
    assert stored_companies(tmp_path / "faulty" / "warehouse.duckdb") == stored_companies(
        tmp_path / "clean" / "warehouse.duckdb"
    )
    assert clean.rows_loaded["deletions"] == faulty.rows_loaded["deletions"] == 0
    assert company_calls(intercom)["GET /companies/scroll"] == 0
