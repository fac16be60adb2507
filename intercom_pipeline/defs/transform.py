"""The dbt models as Dagster assets: sources are the raw assets, tests are asset checks."""

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.compat import DBT_PYTHON_VERSION
from pydantic import Field

from intercom_pipeline.defs.audiences import audience_asset_keys
from intercom_pipeline.defs.automation import FOLLOW_UPSTREAMS, MART_FRESHNESS
from intercom_pipeline.defs.modules import dbt_manifest, models_off, say_why_not_built
from intercom_pipeline.defs.resources import SurveyFeedResource, WarehouseResource
from intercom_pipeline.sources.intercom.selection import setup_selection
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.transform import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    build_folder,
    dbt_vars,
    prepare_manifest,
)

# dbt folder (models/<layer>/...) -> the asset key's prefix, which is also the schema
_PREFIXES = {"staging": "staging", "intermediate": "staging", "marts": "analytics"}
# marts area (models/marts/<area>/...) -> its own schema, when not `analytics`
_MART_SCHEMAS = {"operations": "ops"}


class IntercomDbtTranslator(DagsterDbtTranslator):
    """Models keyed [schema, name]; groups follow the flow: staging, then marts by business area.

    Sources keep dagster-dbt's key, ["intercom", <table>], which the ingestion assets produce,
    except the `audiences` source: many assets write it, so models reading it depend on each.
    Seeds live in `analytics` but belong to the group of the staging models that read them.
    Every model follows its upstreams (`FOLLOW_UPSTREAMS`); marts say how fresh they must be.
    """

    def __init__(self, audiences: tuple[dg.AssetKey, ...]) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))
        self.audiences = audiences

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if _is_mart(manifest["nodes"].get(unique_id, {})):
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        deps = [d for d in spec.deps if d.asset_key.path[0] != "audiences"]
        if len(deps) == len(spec.deps):
            return spec
        return spec.replace_attributes(deps=[*deps, *self.audiences])

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props.get("resource_type") == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if _is_mart(dbt_resource_props):
            return dbt_resource_props["fqn"][2]  # models/marts/<area>/...
        return "staging"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        return FOLLOW_UPSTREAMS


def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
    """The schema of a model or seed: `staging` (staging, intermediate), `analytics` or `ops`."""
    fqn = dbt_resource_props.get("fqn", [])
    if dbt_resource_props.get("resource_type") == "seed" or len(fqn) < 2:
        return "analytics"  # seeds are lookup tables that analysts may read too
    if fqn[1] == "marts" and len(fqn) > 3 and fqn[2] in _MART_SCHEMAS:
        return _MART_SCHEMAS[fqn[2]]
    return _PREFIXES[fqn[1]]


def _is_mart(dbt_resource_props: Mapping[str, Any]) -> bool:
    fqn = dbt_resource_props.get("fqn", [])
    return dbt_resource_props.get("resource_type") == "model" and fqn[1:2] == ["marts"]


class DbtBuildConfig(dg.Config):
    """Run options of the dbt build; the automation and "Materialize" use the defaults."""

    full_refresh: bool = Field(
        default=False,
        description="After a change to the models' SQL: rebuild the incremental models from "
        "scratch (dbt --full-refresh; their stored rows were made by the old SQL) and run the "
        "unit tests, which other builds leave out (they check the SQL, not the data).",
    )


class _DbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI without two start-up costs of every build that we have no use for.

    Before each dbt command dagster-dbt asks the executable its version (`dbt --version`, a
    Python start of its own) and opens a dbt adapter in this process, loading dbt's macros: a
    few seconds a build. The adapter only serves `fetch_row_counts` and `fetch_column_metadata`,
    which we leave out (they would open the warehouse from this process while dbt writes it),
    and the executable is this environment's dbt-core (`DBT_EXECUTABLE`), whose version
    dagster-dbt read when imported.
    """

    @cached_property
    def _cli_version(self) -> Any:
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


@cache
def dbt_project() -> DbtProject:
    """The project, with its manifest parsed when stale (no warehouse connection)."""
    prepare_manifest()
    return DbtProject(project_dir=DBT_PROJECT_DIR)


def intercom_dbt_assets() -> dg.AssetsDefinition:
    """Every model and seed whose modules are on (`modules.py`).

    `dbt build` runs their tests; error severity blocks downstream.
    """
    off = models_off(dbt_manifest(), setup_selection())
    return _dbt_assets(tuple(audience_asset_keys()), tuple(sorted(off.reasons.items())))


@cache
def _dbt_assets(
    audiences: tuple[dg.AssetKey, ...], left_out_models: tuple[tuple[str, str], ...]
) -> dg.AssetsDefinition:
    """Built once per set of audience assets and of models left out (name, why).

    The models reading `audiences` depend on each audience asset.
    """
    project = dbt_project()
    left_out = dict(left_out_models)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="intercom_dbt",
        dagster_dbt_translator=IntercomDbtTranslator(audiences),
        exclude=" ".join(sorted(left_out)) or None,
    )
    def _assets(
        context: dg.AssetExecutionContext,
        config: DbtBuildConfig,
        warehouse: WarehouseResource,
        survey_feed: SurveyFeedResource,
    ) -> Iterator[Any]:
        store = warehouse.get(context.log)
        dbt = _DbtCli(
            project_dir=project,
            dbt_executable=str(DBT_EXECUTABLE),
            profiles_dir=str(store.write_dbt_profile()),
        )
        args = ["build", "--vars", dbt_vars(survey_feed.dbt_vars())]
        if config.full_refresh:
            args.append("--full-refresh")
        else:  # unit tests check the SQL on fixed rows: they run when it changes, not every sync
            args += ["--exclude-resource-type", "unit_test"]
        with store.exclusive("building the dbt models"), build_folder(store) as folder:
            build = dbt.cli(
                args,
                context=context,
                raise_on_error=False,
                target_path=folder,
            )
            yield from build.stream()
        if not build.is_successful():
            raise _known_failure(folder, store) or build.get_error() or dg.Failure("dbt failed")
        if left_out:
            say_why_not_built(store, left_out, context.log)

    return _assets


def _known_failure(folder: Path, store: Warehouse) -> dg.Failure | None:
    """A failure naming its fix, when the build stopped for a cause the user can act on.

    DuckDB ran out of its memory budget (raise it), or an incremental model's columns changed
    with a new release (rebuild it once from scratch).
    """
    run_results = folder / "run_results.json"
    if not run_results.exists():  # dbt stopped before building anything
        return None
    results = json.loads(run_results.read_text()).get("results", [])

    def failed_with(text: str) -> list[str]:
        return [r["unique_id"] for r in results if text in (r.get("message") or "")]

    if starved := failed_with("Out of Memory"):
        return dg.Failure(
            f"DuckDB ran out of its memory budget ({store.settings.memory_limit}) building "
            f"{', '.join(starved)}: raise DUCKDB_MEMORY_LIMIT (e.g. to 4GB) and build again."
        )
    if changed := failed_with("out of sync"):
        return dg.Failure(
            f"The columns of {', '.join(changed)} changed (a new release or an edited model) "
            "and the incremental table still has the old ones: materialize the dbt assets once "
            "with the run config full_refresh: true (Launchpad), then builds go on as before."
        )
    return None


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[intercom_dbt_assets()])
