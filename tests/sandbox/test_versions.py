"""Every Intercom-Version of the spec's enum is served, with 2.16's shapes; others are refused."""

from __future__ import annotations

import pytest

from intercom_sandbox.server import KNOWN_VERSIONS
from tests.conftest import SandboxClient
from tests.sandbox.spec import load_spec


def test_known_versions_are_the_spec_enum() -> None:
    enum = load_spec()["components"]["schemas"]["intercom_version"]["enum"]
    assert list(KNOWN_VERSIONS) == [str(v) for v in enum]


def _ids(intercom: SandboxClient, path: str, key: str, version: str) -> list[str]:
    response = intercom.get(path, headers={"Intercom-Version": version})
    assert response.status_code == 200, (version, response.text)
    return [item["id"] for item in response.json()[key]]


@pytest.mark.parametrize("version", ["1.0", "1.4", "2.9", "2.10", "2.12", "2.15"])
def test_a_pinned_client_reads_the_same_records(intercom: SandboxClient, version: str) -> None:
    for path, key in [
        ("/contacts", "data"),
        ("/conversations", "conversations"),
        ("/admins", "admins"),
    ]:
        assert _ids(intercom, path, key, version) == _ids(intercom, path, key, "2.16"), path


@pytest.mark.parametrize("version", ["Unstable", "2.17", "3.0", "banana", ""])
def test_versions_outside_the_enum_are_refused(intercom: SandboxClient, version: str) -> None:
    response = intercom.get("/admins", headers={"Intercom-Version": version})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "intercom_version_invalid"
