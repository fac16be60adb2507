"""Lineage guard: raw tables -> dbt sources -> staging -> marts -> the BI copy, with no gaps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from intercom_pipeline.defs.audiences import audience_asset_keys
from intercom_pipeline.defs.keys import mart_key, raw_key
from intercom_pipeline.sources.intercom import RAW_TABLES
from intercom_pipeline.warehouse.transform import prepare_manifest


@pytest.fixture(scope="module")
def scratch_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A warehouse of its own for the module (the autouse fixture is per test, after this)."""
    scratch = tmp_path_factory.mktemp("lineage")
    env = {
        "DUCKDB_PATH": str(scratch / "warehouse.duckdb"),
        "DUCKDB_SERVING_DIR": str(scratch / "serving"),
        "SURVEY_FEED_DIR": str(scratch / "survey_feed"),
        "DLT_DATA_DIR": str(scratch / "dlt"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


@pytest.fixture(scope="module")
def graph(scratch_env: dict[str, str]) -> dg.AssetGraph:
    from intercom_pipeline.definitions import defs

    return defs().resolve_asset_graph()


@pytest.fixture(scope="module")
def manifest(scratch_env: dict[str, str]) -> dict:
    return json.loads(prepare_manifest().read_text())


def test_every_dbt_source_is_produced_by_an_ingestion_asset(
    graph: dg.AssetGraph, manifest: dict
) -> None:
    sources = {dg.AssetKey([s["source_name"], s["name"]]) for s in manifest["sources"].values()}
    assert {dg.AssetKey(["intercom", t]) for t in RAW_TABLES} <= sources
    # Every audience asset writes the members table, so its readers depend on all of them.
    members = dg.AssetKey(["audiences", "audience_members"])
    assert members in sources
    readers = graph.get(mart_key("audience_survey_responses")).parent_keys
    assert set(audience_asset_keys()) <= readers
    assert all(graph.get(key).group_name == "audiences" for key in audience_asset_keys())
    for key in sources - {members}:
        node = graph.get(key)  # raises when no asset produces the source
        assert node.is_materializable, f"{key} is a source nothing loads"
        assert node.group_name in ("intercom_raw", "survey_feed", "surveys_on_close", "operations")


def test_every_raw_table_has_a_staging_model(graph: dg.AssetGraph) -> None:
    for table in RAW_TABLES:
        children = {
            k.to_user_string() for k in graph.get(dg.AssetKey(["intercom", table])).child_keys
        }
        assert f"staging/stg_intercom__{table}" in children, table


def test_marts_read_only_models_and_the_bi_copy_follows_every_mart(
    graph: dg.AssetGraph, manifest: dict
) -> None:
    # Mart name -> its key, [schema, name]: `analytics`, or `ops` for the sync history.
    keys = {
        node["name"]: dg.AssetKey([node["schema"], node["name"]])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }
    marts = set(keys)
    assert {
        "conversations",
        "support_metrics_daily",
        "support_metrics_daily_by_team",
        "support_metrics_daily_by_admin",
        "admin_performance",
        "team_performance",
        "tickets",
        "conversation_contacts",
        "team_admins",
        "contacts",
        "companies",
        "feedback_documents",
        "survey_responses",
        "survey_response_quarantine",
        "survey_scores",
        "contact_survey_profile",
        "audience_survey_responses",
    } <= marts
    bi_parents = graph.get(dg.AssetKey("bi_warehouse")).parent_keys
    assert {keys["sync_history"], keys["audit_log"]} == {
        dg.AssetKey(["ops", "sync_history"]),
        dg.AssetKey(["ops", "audit_log"]),
    }
    assert set(keys.values()) <= bi_parents
    for mart, key in keys.items():
        ancestors = {k.path[0] for k in _ancestors(graph, key)}
        assert ancestors & {"intercom", "survey_feed", "surveys", "ops_raw"}, (
            f"{mart} has no source"
        )


def test_dbt_tests_are_asset_checks_and_error_severity_blocks(manifest: dict) -> None:
    from intercom_pipeline.defs.transform import intercom_dbt_assets

    specs = list(intercom_dbt_assets().check_specs)
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert sorted(s.name for s in specs) == sorted(t["name"] for t in tests)  # one check each
    on_conversations = [s for s in specs if s.asset_key == mart_key("conversations")]
    assert any(s.name.startswith("primary_key_conversations") for s in on_conversations)
    assert {t["config"]["severity"].lower() for t in tests} == {"error"}
    assert all(s.blocking for s in specs)


def _ancestors(graph: dg.AssetGraph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    stack = [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_keys_name_their_layer_and_no_name_is_used_twice(graph: dg.AssetGraph) -> None:
    keys = graph.get_all_asset_keys()
    layers = {k.path[0] for k in keys if len(k.path) == 2}
    assert {"intercom", "staging", "analytics"} <= layers
    assert dg.AssetKey(["intercom", "conversations"]) in keys
    assert mart_key("conversations") in keys
    assert dg.AssetKey("conversations") not in keys
    for key in keys:
        if key.path[0] == "staging":
            assert key.path[1].startswith(("stg_", "int_")), key
    names = [k.path[-1] for k in keys if k.path[0] in ("staging", "analytics")]
    assert len(names) == len(set(names))


def test_groups_follow_the_flow_without_loops(graph: dg.AssetGraph) -> None:
    """Group to group, the lineage only moves on: raw, staging, marts, then what reads them."""
    edges = {
        (graph.get(parent).group_name, graph.get(key).group_name)
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
    }
    order = {"intercom_raw": 0, "survey_feed": 0, "surveys_on_close": 0, "staging": 1}
    order |= dict.fromkeys(("support", "customers", "surveys", "ai_agent"), 2)
    order |= {"feedback": 3, "audiences": 3, "push_back": 4, "serving": 5}
    order["operations"] = 2  # the history's raw tables and its marts, read by the BI copy
    groups = {group for edge in edges for group in edge}
    assert groups == set(order)
    backwards = {(a, b) for a, b in edges if a != b and order[a] >= order[b]}
    assert not backwards
    seeds = [k for k in graph.get_all_asset_keys() if k.path[-1].startswith("survey_score_")]
    assert seeds and all(graph.get(k).group_name == "staging" for k in seeds)


def test_models_the_bi_copy_and_the_push_back_follow_their_upstreams(graph: dg.AssetGraph) -> None:
    from intercom_pipeline.defs.automation import FOLLOW_UPSTREAMS

    followers = {
        k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None
    }
    for key in followers:
        assert graph.get(key).automation_condition == FOLLOW_UPSTREAMS, key
    dbt_keys = {k for k in followers if k.path[0] in ("staging", "analytics")}
    assert mart_key("conversations") in dbt_keys
    assert dg.AssetKey("bi_warehouse") in followers
    assert dg.AssetKey("intercom_contact_survey_push") in followers
    assert not {k for k in followers if k.path[0] in ("intercom", "audiences", "surveys")}
    fresh = {k for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy}
    assert mart_key("conversations") in fresh
    assert mart_key("survey_score_labels") not in fresh  # a seed changes when someone edits it
    # Raw tables: late an hour past their schedule's interval, failing a day past it.
    for table, every in (("conversations", 1), ("contact_tags", 1), ("admins", 24)):
        policy = graph.get(raw_key(table)).freshness_policy
        assert policy is not None, table
        assert policy.warn_window.to_timedelta() == timedelta(hours=every + 1), table
        assert policy.fail_window.to_timedelta() == timedelta(hours=every + 24), table


def test_the_audience_readers_follow_the_audiences_file(
    scratch_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the definitions again with another file never leaves a dep on a vanished asset."""
    from intercom_pipeline.definitions import defs

    custom = tmp_path / "audiences.yaml"
    filter_ = {"property": "country", "operator": "is", "value": "Japan"}
    entry = {"type": "custom", "id": "japan", "name": "Japan", "filter": filter_}
    custom.write_text(yaml.safe_dump({"audiences": [entry]}))
    for audiences_file in (str(custom), None):
        if audiences_file:
            monkeypatch.setenv("AUDIENCES_FILE", audiences_file)
        else:
            monkeypatch.delenv("AUDIENCES_FILE", raising=False)
        graph = defs().resolve_asset_graph()
        audiences = {k for k in graph.get_all_asset_keys() if k.path[0] == "audiences"}
        readers = graph.get(mart_key("audience_survey_responses")).parent_keys
        assert {k for k in readers if k.path[0] == "audiences"} == audiences
        assert (dg.AssetKey(["audiences", "japan"]) in audiences) == bool(audiences_file)
