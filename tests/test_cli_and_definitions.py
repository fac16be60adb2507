"""The user's entry points: the CLI and the Dagster code location."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import requests

from intercom_pipeline import cli, demo
from intercom_pipeline.activation.push_back import ledger
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.warehouse import Warehouse
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.generator import build_workspace

PUSH = dg.AssetKey("intercom_contact_survey_push")
SURVEYS = dg.AssetKey(["surveys", "survey_requests"])


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
        for line in out.split("Raw tables")[1].split("Headline metrics")[0].splitlines()
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
    assert "Not run, as they write to the workspace" not in out
    pushed = next(line for line in out.splitlines() if line.startswith("Pushed to Intercom"))
    assert "(mode score_and_comment)" in pushed and " 0 failed" in pushed
    assert "0 events merged" in pushed
    assert_timings(out)


# The demo's steps, named after the assets they build (`demo.STEP_NAMES`, "dbt", "checks").
STEPS = {
    "ingest",
    "survey feed",
    "surveys on close",
    "checks",
    "dbt",
    "audiences",
    "push back",
    "sync history",
    "publish",
}


def assert_timings(out: str) -> None:
    """A line per step as it finishes, and at the end every part's time and the total."""
    step_lines = out.split("Survey feed:")[1].split("Raw tables")[0].splitlines()[1:]
    finished = [line.strip().rsplit(maxsplit=2) for line in step_lines]
    assert {name for name, _, _ in finished} == STEPS
    assert {unit for _, _, unit in finished} == {"s"}
    timings = out.splitlines()[-1]
    assert timings.startswith("Timings: ") and timings.endswith(" s")
    parts = {
        name: float(seconds)
        for name, seconds, _ in (part.rsplit(maxsplit=2) for part in timings[9:].split(", "))
    }
    total = parts.pop("total")
    names = list(parts)
    assert names[:2] == ["sandbox", "start-up"] and names[-1] == "Dagster"
    assert set(names[2:-1]) == STEPS
    assert sum(parts.values()) <= total + 0.05 * len(parts)  # each is rounded to 0.1 s
    for name in STEPS:  # a step's part is the sum of its lines
        lines = [float(seconds) for step, seconds, _ in finished if step == name]
        assert abs(sum(lines) - parts[name]) <= 0.05 * (len(lines) + 1), name


def test_the_demo_writes_to_a_configured_workspace_only_when_asked() -> None:
    from intercom_pipeline.definitions import defs

    graph = defs().resolve_asset_graph()
    everything = dg.AssetSelection.all().resolve(graph)
    audiences = {k for k in everything if k.path[0] == "audiences"}
    assert audiences and {PUSH, SURVEYS} <= everything
    for configured in (
        {"INTERCOM_ACCESS_TOKEN": "tok"},
        {"INTERCOM_BASE_URL": "https://intercom-proxy.example"},
    ):
        left_out = demo.demo_left_out(intercom_settings(configured), push=False)
        assert left_out is not None
        assert left_out.resolve(graph) == {PUSH, SURVEYS, *audiences}
        assert demo.demo_left_out(intercom_settings(configured), push=True) is None
    assert demo.demo_left_out(intercom_settings({}), push=False) is None  # the embedded sandbox


def test_the_demo_on_a_configured_workspace_writes_nothing_to_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "demo.duckdb"))
    monkeypatch.setenv("DUCKDB_SERVING_DIR", str(tmp_path / "serving"))
    monkeypatch.setenv("SURVEY_FEED_DIR", str(tmp_path / "feed"))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    (tmp_path / "feed").mkdir()
    with RunningSandbox(Sandbox(SandboxConfig(seed=2, scale="tiny"))) as running:
        monkeypatch.setenv("INTERCOM_BASE_URL", running.base_url)  # as a real workspace would be
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        assert cli.main(["demo"]) == 0
        stats = requests.get(f"{running.base_url}/_sandbox/stats", timeout=30).json()
    out = capsys.readouterr().out
    assert stats["writes"] == []
    assert "Not run, as they write to the workspace: " in out
    assert "intercom_contact_survey_push" in out and "surveys/survey_requests" in out
    assert "`intercom-pipeline demo --push` runs them too." in out
    assert "Pushed to Intercom" not in out
    assert "Headline metrics" in out
    assert out.splitlines()[-1].startswith("Timings: start-up ")  # no sandbox was started


def test_the_push_report_reads_the_run_s_failures_from_the_warehouse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    warehouse = Warehouse.at(tmp_path / "w.duckdb")
    with warehouse.connect() as conn:
        ledger.ensure_tables(conn)
        conn.executemany(
            f"insert into {ledger.FAILURES} values (?, ?, ?, ?)",
            [("run-1", f"event:w:c{i}", f"c{i}", f"refused | reason {i}") for i in range(7)]
            + [("run-0", "event:w:a", "a", "an earlier run")],
        )
    counts = {"sent": 3, "unchanged": 2, "skipped": 0, "failed": 7, "write_calls": 3}
    pushed = {
        **{name: dg.MetadataValue.int(value) for name, value in counts.items()},
        "events_merged": dg.MetadataValue.int(1),
        "mode": dg.MetadataValue.text("score_only"),
        "notes": dg.MetadataValue.md("- a note"),
        "run_id": dg.MetadataValue.text("run-1"),
    }
    demo.print_push_report(warehouse, pushed)
    assert capsys.readouterr().out.splitlines() == [
        "Pushed to Intercom (mode score_only): 3 sent, 2 unchanged, 0 skipped, 7 failed, in 3 "
        "write calls; 1 events merged into another of the same contact, name and second",
        "- a note",
        "First failures (reverse_etl.intercom_push_failures has them all):",
        *(f"  c{i} (event:w:c{i}): refused | reason {i}" for i in range(5)),
    ]


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


def test_ingest_with_a_rejected_token_says_what_to_do_without_the_token(
    running_sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "tok_revoked_secret")
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    assert cli.main(["ingest", "admins"]) == 2
    err = capsys.readouterr().err
    assert "invalid or revoked" in err
    assert "tok_revoked_secret" not in err
    assert "Traceback" not in err


def test_an_intercom_error_is_found_behind_dlt_s_wrapping() -> None:
    from intercom_pipeline.sources.intercom.client import IntercomAuthError

    def wrapped() -> None:
        try:
            raise IntercomAuthError("token invalid or revoked", 401, "unauthorized")
        except IntercomAuthError as inner:
            try:
                raise RuntimeError("extract failed") from inner
            except RuntimeError as middle:
                raise RuntimeError("pipeline step failed") from middle

    with pytest.raises(RuntimeError) as raised:
        wrapped()
    found = cli._intercom_cause(raised.value)
    assert isinstance(found, IntercomAuthError) and found.status == 401
    assert cli._intercom_cause(RuntimeError("no cause")) is None
