"""The dbt models as Dagster assets: sources are the raw assets, tests are asset checks."""

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from intercom_pipeline.defs.audiences import audience_asset_keys
from intercom_pipeline.defs.resources import SurveyFeedResource, WarehouseResource
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.transform import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    build_folder,
    dbt_vars,
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
    return DbtProject(project_dir=DBT_PROJECT_DIR)


@cache
def intercom_dbt_assets() -> dg.AssetsDefinition:
    """Every model and seed; `dbt build` runs their tests, error severity blocks downstream."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="intercom_dbt",
        dagster_dbt_translator=IntercomDbtTranslator(),
    )
    def _assets(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        survey_feed: SurveyFeedResource,
    ) -> Iterator[Any]:
        store = warehouse.get(context.log)
        dbt = DbtCliResource(
            project_dir=project,
            dbt_executable=str(DBT_EXECUTABLE),
            profiles_dir=str(store.write_dbt_profile()),
        )
        with store.exclusive("building the dbt models"), build_folder(store) as folder:
            build = dbt.cli(
                ["build", "--vars", dbt_vars(survey_feed.dbt_vars())],
                context=context,
                raise_on_error=False,
                target_path=folder,
            )
            yield from build.stream()
        if not build.is_successful():
            raise _out_of_memory(folder, store) or build.get_error() or dg.Failure("dbt failed")

    return _assets


def _out_of_memory(folder: Path, store: Warehouse) -> dg.Failure | None:
    """A failure naming the setting to raise, when DuckDB ran out of its memory budget."""
    run_results = folder / "run_results.json"
    if not run_results.exists():  # dbt stopped before building anything
        return None
    results = json.loads(run_results.read_text()).get("results", [])
    starved = [r["unique_id"] for r in results if "Out of Memory" in (r.get("message") or "")]
    if not starved:
        return None
    return dg.Failure(
        f"DuckDB ran out of its memory budget ({store.settings.memory_limit}) building "
        f"{', '.join(starved)}: raise DUCKDB_MEMORY_LIMIT (e.g. to 4GB) and build again."
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[intercom_dbt_assets()])
