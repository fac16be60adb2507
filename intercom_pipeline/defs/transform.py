"""The dbt models as Dagster assets: sources are the raw assets, tests are asset checks."""

import os
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from intercom_pipeline.defs.audiences import audience_asset_keys
from intercom_pipeline.defs.ingestion import WAREHOUSE_POOL
from intercom_pipeline.transform import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    dbt_environment,
    prepare_manifest,
)

# dbt folder (models/<layer>/<area>/...) -> Dagster group
_LAYER_GROUPS = {"staging": "staging", "intermediate": "staging"}


class IntercomDbtTranslator(DagsterDbtTranslator):
    """Models and seeds keyed by name; groups from the folders (staging, marts by business area).

    Sources keep dagster-dbt's key, ["intercom", <table>], which the ingestion assets produce,
    except the `audiences` source: many assets write it, so models reading it depend on each.
    """

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        deps = [d for d in spec.deps if d.asset_key.path[0] != "audiences"]
        if len(deps) == len(spec.deps):
            return spec
        return spec.replace_attributes(deps=[*deps, *audience_asset_keys()])

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props.get("resource_type") == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "surveys"
        if len(fqn) > 2 and fqn[1] in _LAYER_GROUPS:
            return _LAYER_GROUPS[fqn[1]]
        if len(fqn) > 3 and fqn[1] == "marts":
            return fqn[2]
        return super().get_group_name(dbt_resource_props)


@cache
def dbt_project() -> DbtProject:
    """The project, with its manifest parsed when stale (no warehouse connection)."""
    prepare_manifest()
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


@cache
def intercom_dbt_assets() -> dg.AssetsDefinition:
    """Every model and seed; `dbt build` runs their tests, error severity blocks downstream."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="intercom_dbt",
        dagster_dbt_translator=IntercomDbtTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def _assets(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        os.environ.update(dbt_environment())
        yield from dbt.cli(["build"], context=context).stream()

    return _assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[intercom_dbt_assets()],
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=str(DBT_EXECUTABLE))
        },
    )
