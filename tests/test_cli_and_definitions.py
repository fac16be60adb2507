"""The user's entry points: the CLI and the Dagster code location."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from intercom_pipeline import cli
from intercom_pipeline.sandbox.generator import build_workspace


def test_demo_builds_everything_from_the_embedded_sandbox(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_BASE_URL", "INTERCOM_REGION", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "demo.duckdb"))
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    expected = build_workspace(1, "demo").summary()
    rows = {
        line.split()[0]: (int(line.split()[1]), int(line.split()[2]))
        for line in out.split("Headline metrics")[0].splitlines()
        if line.startswith("  ")
    }
    for table in (
        "admins",
        "teams",
        "tags",
        "segments",
        "companies",
        "contacts",
        "conversations",
        "tickets",
        "articles",
        "collections",
        "help_centers",
    ):
        assert rows[table] == (expected[table], expected[table]), table
    assert rows["deletions"] == (0, 0)
    assert "embedded Intercom sandbox" in out
    assert (tmp_path / "demo.duckdb").exists()
    headline = dict(
        line.strip().rsplit(maxsplit=1)
        for line in out.split("Headline metrics")[1].splitlines()[1:16]
    )
    conversations = build_workspace(1, "demo").conversations
    assert int(headline["conversations"]) == len(conversations)
    assert int(headline["resolved (closed)"]) == sum(c.state == "closed" for c in conversations)
    rated = [c.rating.rating for c in conversations if c.rating]
    assert float(headline["satisfaction rate % (rated 4-5 / rated)"]) == round(
        sum(r >= 4 for r in rated) * 100 / len(rated), 2
    )
    assert int(headline["survey answers in quarantine"]) == 5  # the demo feed's bad rows
    pushed = next(line for line in out.splitlines() if line.startswith("Pushed to Intercom"))
    assert "(mode score_and_comment)" in pushed and " 0 failed" in pushed


def test_config_hides_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "tok_do_not_print")
    monkeypatch.setenv("INTERCOM_REGION", "au")
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "tok_do_not_print" not in out
    assert "https://api.au.intercom.io" in out
    assert "SURVEY_MODE            test (channels email, chat)" in out


def test_bad_configuration_exits_2_with_the_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_REGION", "mars")
    assert cli.main(["demo"]) == 2
    assert "Set it to one of us, eu, au" in capsys.readouterr().err


def test_definitions_load_without_touching_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))
    from intercom_pipeline.definitions import defs

    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    assert not warehouse.exists()


def test_workspace_yaml_points_at_the_definitions_module() -> None:
    text = (Path(__file__).parent.parent / "workspace.yaml").read_text()
    assert "module_name: intercom_pipeline.definitions" in text


def test_ingest_refuses_an_unknown_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest", "convos"]) == 2
    assert "unknown tables ['convos']" in capsys.readouterr().err
