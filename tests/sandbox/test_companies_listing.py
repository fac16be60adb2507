"""GET /companies: most recently requested first, and paged through at most 10,000 companies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from intercom_sandbox import SandboxConfig
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import MAX_PAGES, assert_each_once, ids, walk_numbered


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


def test_companies_are_listed_most_recently_requested_first(
    intercom: SandboxClient, ws: Workspace
) -> None:
    companies = walk_numbered(intercom, "GET", "/companies", per_page=7)
    assert_each_once(ids(companies), {c.id for c in ws.visible_companies()})
    keys = [(c["last_request_at"], c["id"]) for c in companies]
    assert keys == sorted(keys, reverse=True)


def test_paging_reaches_ten_thousand_companies_and_total_count_counts_them_all(
    intercom: SandboxClient, ws: Workspace
) -> None:
    template = ws.companies[0]
    ws.companies += [
        replace(template, id=f"{n:024x}", company_id=f"bulk-{n}", last_request_at=n)
        for n in range(10_050 - len(ws.companies))
    ]
    ws.reindex()
    ws.changed()
    reached: list[str] = []
    for page in range(1, MAX_PAGES):
        body = intercom.get("/companies", params={"page": page, "per_page": 60}).json()
        assert body["total_count"] == 10_050
        reached += ids(body["data"])
        if body["pages"]["next"] is None:
            break
    assert (page, body["pages"]["total_pages"]) == (167, 167)  # 10,000 / 60, rounded up
    newest = sorted(ws.companies, key=lambda c: (c.last_request_at, c.id), reverse=True)
    assert reached == [c.id for c in newest[:10_000]]
