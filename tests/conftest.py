"""Shared fixtures: an in-process Intercom sandbox and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from intercom_sandbox import (
    API_VERSION,
    DEFAULT_TOKEN,
    RunningSandbox,
    Sandbox,
    SandboxConfig,
)
from intercom_sandbox.workspace import Workspace
from tests.postgres import PostgresCluster


class SandboxClient:
    """A thin requests wrapper that talks to one running sandbox like an Intercom client would."""

    def __init__(self, running: RunningSandbox, token: str = DEFAULT_TOKEN) -> None:
        self.running = running
        self.base_url = running.base_url
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Intercom-Version": API_VERSION,
            }
        )

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call the sandbox's own control API (`/_sandbox/...`) and return its JSON."""
        response = requests.request(
            method, f"{self.base_url}/_sandbox{path}", json=body, timeout=60
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Override in a test module to change seed, scale, limits or faults."""
    return SandboxConfig(seed=1, scale="demo")


@pytest.fixture
def running_sandbox(sandbox_config: SandboxConfig) -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(sandbox_config)) as running:
        yield running


@pytest.fixture
def sandbox_url(running_sandbox: RunningSandbox) -> str:
    """The base URL of a fresh in-process sandbox (use as INTERCOM_BASE_URL)."""
    return running_sandbox.base_url


@pytest.fixture
def intercom(running_sandbox: RunningSandbox) -> SandboxClient:
    return SandboxClient(running_sandbox)


@pytest.fixture
def ws(running_sandbox: RunningSandbox) -> Workspace:
    """The running sandbox's workspace, to compare API answers with."""
    return running_sandbox.sandbox.workspace


@pytest.fixture(autouse=True)
def isolated_warehouse(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes the project's own warehouse, BI copy, survey feed or the user's ~/.dlt."""
    scratch = tmp_path_factory.mktemp("isolated")
    monkeypatch.setenv("DUCKDB_PATH", str(scratch / "warehouse.duckdb"))
    monkeypatch.setenv("DUCKDB_SERVING_DIR", str(scratch / "serving"))
    monkeypatch.setenv("SURVEY_FEED_DIR", str(scratch / "survey_feed"))
    monkeypatch.setenv("DLT_DATA_DIR", str(scratch / "dlt"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL server for the whole session; each test makes its databases."""
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
