"""Companies spooled to a temporary file: listed by pages when proven complete, else scrolled
(once per company, restarts, lock, cleanup)."""

from __future__ import annotations

import fcntl
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.client import (
    IntercomAuthError,
    IntercomClient,
    IntercomError,
)

EXPIRED = IntercomError("scroll expired", 404, "scroll_param_not_found")


class ScriptedCompanies(IntercomClient):
    """A client serving `companies` through the scroll, failing once after each count in
    `fail_after`, and the first `listed` of them through GET /companies, whose total_count is
    `totals` in turn (None: not reported)."""

    def __init__(
        self,
        companies: int,
        fail_after: list[int],
        error: IntercomError = EXPIRED,
        *,
        listed: int = 0,
        totals: tuple[int | None, ...] = (None,),
    ) -> None:
        super().__init__(
            intercom_settings(
                {"INTERCOM_BASE_URL": "http://127.0.0.1:9", "INTERCOM_ACCESS_TOKEN": "token"}
            )
        )
        self.companies = [{"id": f"c{i}", "updated_at": i} for i in range(companies)]
        self.fail_after = fail_after
        self.error = error
        self.listed = listed
        self.totals = list(totals)
        self.scrolls = self.listings = 0

    def request(self, method: str, path: str, **options: Any) -> Any:
        assert (method, path, options) == (
            "GET",
            "/companies",
            {"params": {"page": 1, "per_page": 1}},
        )
        return {"type": "list", "data": [], "total_count": self.totals.pop(0)}

    def numbered_pages(
        self, path: str, key: str = "data", **options: Any
    ) -> Iterator[dict[str, Any]]:
        assert (path, options) == ("/companies", {"per_page": 60})
        self.listings += 1
        yield from self.companies[: self.listed]

    def scroll(self, path: str = "/companies/scroll") -> Iterator[dict[str, Any]]:
        self.scrolls += 1
        for served, company in enumerate(self.companies):
            if self.fail_after and served == self.fail_after[0]:
                self.fail_after.pop(0)
                raise self.error
            yield company


def spooled_ids(client: IntercomClient, lock_dir: Path, **options: Any) -> list[str]:
    with helpers.spooled_companies(client, lock_dir=lock_dir, **options) as spool:
        return [c["id"] for page in helpers.spooled_pages(spool, 4) for c in page]


def test_a_listing_that_reaches_every_company_is_used_without_the_scroll_or_its_lock(
    tmp_path: Path,
) -> None:
    client = ScriptedCompanies(7, fail_after=[], listed=7, totals=(7, 7))
    assert spooled_ids(client, tmp_path, listing_reach=7) == [f"c{i}" for i in range(7)]
    assert (client.listings, client.scrolls) == (1, 0)
    assert list(tmp_path.iterdir()) == []  # no lock file: the lock is the scroll's only


@pytest.mark.parametrize(
    ("listed", "totals", "listings"),
    [
        pytest.param(6, (7, 7), 1, id="a company missed"),
        pytest.param(7, (7, 8), 1, id="one more counted after the listing"),
        pytest.param(7, (8,), 0, id="more than the listing reaches"),
        pytest.param(7, (None,), 0, id="no total_count"),
    ],
)
def test_a_listing_not_proven_complete_gives_way_to_the_scroll(
    listed: int,
    totals: tuple[int | None, ...],
    listings: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = ScriptedCompanies(7, fail_after=[], listed=listed, totals=totals)
    with caplog.at_level(logging.INFO, logger=helpers.__name__):
        ids = spooled_ids(client, tmp_path, listing_reach=7)
    assert ids == [f"c{i}" for i in range(7)]  # each once: the listed ones were dropped
    assert (client.listings, client.scrolls) == (listings, 1)
    assert "through the scroll" in caplog.text


def test_the_warning_for_a_short_listing_says_what_it_missed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = ScriptedCompanies(7, fail_after=[], listed=5, totals=(6, 7))
    spooled_ids(client, tmp_path, listing_reach=7)
    assert (
        "GET /companies listed 5 distinct companies of the 7 it reported: some moved between "
        "its pages while they were read (or it reaches fewer than 7); reading them through the "
        "scroll instead"
    ) in caplog.text


def test_a_broken_scroll_restarts_into_an_emptied_spool(tmp_path: Path) -> None:
    client = ScriptedCompanies(10, fail_after=[7, 2])
    waits: list[float] = []
    with (tmp_path / "spool").open("w+b") as spool:
        helpers.spool_scroll(client, spool, sleep=waits.append)
        spool.seek(0)
        ids = [c["id"] for page in helpers.spooled_pages(spool, 4) for c in page]
    assert client.scrolls == 3
    assert waits == [1.0, 1.0]
    assert ids == [f"c{i}" for i in range(10)]  # each once, in scroll order


def test_a_scroll_broken_by_a_failed_page_restarts_once_its_scroll_expired(tmp_path: Path) -> None:
    """The broken scroll stays open on Intercom's side: restarting at once would be refused."""
    client = ScriptedCompanies(10, fail_after=[4], error=IntercomError("a truncated body"))
    waits: list[float] = []
    with (tmp_path / "spool").open("w+b") as spool:
        helpers.spool_scroll(client, spool, conflict_wait=61.0, sleep=waits.append)
    assert (client.scrolls, waits) == (2, [61.0])


def test_a_refused_token_is_not_retried(tmp_path: Path) -> None:
    client = ScriptedCompanies(3, fail_after=[0], error=IntercomAuthError("token revoked", 401))
    with (tmp_path / "spool").open("w+b") as spool, pytest.raises(IntercomAuthError):
        helpers.spool_scroll(client, spool, sleep=lambda _: pytest.fail("waited to retry"))


def test_a_scroll_that_keeps_failing_names_the_likely_cause(tmp_path: Path) -> None:
    client = ScriptedCompanies(3, fail_after=[1, 1])
    with (tmp_path / "spool").open("w+b") as spool, pytest.raises(IntercomError, match="2 times"):
        helpers.spool_scroll(client, spool, attempts=2, sleep=lambda _: None)


def test_spooled_companies_come_back_by_page_without_the_lock_and_the_file_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_dir, lock_dir = tmp_path / "spool", tmp_path / "locks"
    spool_dir.mkdir()
    lock_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    client = ScriptedCompanies(7, fail_after=[])
    with helpers.spooled_companies(client, lock_dir=lock_dir) as spool:
        (lock_file,) = lock_dir.iterdir()
        with lock_file.open() as other:  # another run may take the scroll while this one yields
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        pages = [[c["id"] for c in page] for page in helpers.spooled_pages(spool, 3)]
    assert pages == [["c0", "c1", "c2"], ["c3", "c4", "c5"], ["c6"]]
    assert spool.closed
    assert list(spool_dir.iterdir()) == []


def test_live_ids_are_written_for_duckdb(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "ids.jsonl"
    helpers.write_ids(path, iter(["a", 'quote"d', "new\nline"]))
    rows = duckdb.sql(
        f"select id from read_json('{path}', format = 'newline_delimited', "
        "columns = {'id': 'VARCHAR'})"
    ).fetchall()
    assert [r[0] for r in rows] == ["a", 'quote"d', "new\nline"]


def test_a_company_the_scroll_returns_twice_is_stored_once_with_its_latest_values(
    tmp_path: Path,
) -> None:
    """The merge keeps the row with the newest `updated_at`, whichever came first."""
    import duckdb

    from intercom_pipeline.sources.intercom import Workspace, intercom_source
    from intercom_pipeline.warehouse import Warehouse
    from intercom_pipeline.warehouse.load import RAW_DATASET, loading_pipeline

    client = ScriptedCompanies(0, fail_after=[])
    client.companies = [
        {"id": "a", "name": "a old", "updated_at": 100},
        {"id": "b", "name": "b new", "updated_at": 300},
        {"id": "a", "name": "a new", "updated_at": 200},
        {"id": "b", "name": "b old", "updated_at": 150},
    ]
    workspace = Workspace(client, app_id="app")  # instead of asking GET /me
    source = intercom_source([workspace], reconcile_deletions=False).with_resources("companies")
    warehouse = tmp_path / "warehouse.duckdb"
    with loading_pipeline(Warehouse.at(warehouse)) as pipeline:
        pipeline.run(source, loader_file_format="parquet")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select id, name, epoch(updated_at)::int from {RAW_DATASET}.companies order by id"
        ).fetchall()
    assert rows == [("a", "a new", 200), ("b", "b new", 300)]
