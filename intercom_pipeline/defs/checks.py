"""Asset checks on the raw tables.

They catch types that changed upstream, and conversation parts the API did not (or could not)
return.
"""

from collections import defaultdict
from collections.abc import Iterator

import dagster as dg

from intercom_pipeline.defs.keys import raw_key
from intercom_pipeline.defs.resources import WarehouseResource
from intercom_pipeline.sources.intercom.selection import setup_selection
from intercom_pipeline.warehouse import quality

PARTS_KEY = raw_key("conversation_parts")


def _types_unchanged(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Fails, naming the table and column, when a type changed upstream.

    The data itself is kept: in a variant column, or whole in the custom attributes' JSON.
    """
    findings = quality.type_findings(warehouse.get(context.log))
    by_table: dict[str, list[quality.TypeDrift]] = defaultdict(list)
    for finding in findings:
        by_table[finding.table].append(finding)
    for check_key in context.selected_asset_check_keys:
        table = check_key.asset_key.path[-1]
        changed = by_table.get(table, [])
        yield dg.AssetCheckResult(
            asset_key=check_key.asset_key,
            check_name=check_key.name,
            passed=not changed,
            metadata={
                "changed_columns": dg.MetadataValue.int(len(changed)),
                "details": dg.MetadataValue.md(
                    "\n".join(f"- {f.describe()}" for f in changed) or "no type changes"
                ),
            },
        )


@dg.asset_check(asset=PARTS_KEY)
def conversation_parts_complete(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Loaded parts per conversation equal `statistics.count_conversation_parts`.

    A conversation with more parts than the 500 the API returns only warns (it is flagged on the
    conversations table, with both counts); any other difference is an error.
    """
    with warehouse.get(context.log).connect("checking conversation parts") as conn:
        gaps = quality.conversation_parts_gaps(conn)
    unexplained = [g for g in gaps if not g.truncated_by_api]
    listing = "\n".join(
        f"- {g.conversation_id}: {g.loaded} loaded of {g.total}"
        + (" (over the API's 500-part limit)" if g.truncated_by_api else "")
        for g in gaps[:50]
    )
    return dg.AssetCheckResult(
        passed=not gaps,
        severity=dg.AssetCheckSeverity.ERROR if unexplained else dg.AssetCheckSeverity.WARN,
        metadata={
            "conversations_over_api_limit": dg.MetadataValue.int(len(gaps) - len(unexplained)),
            "conversations_missing_parts": dg.MetadataValue.int(len(unexplained)),
            "details": dg.MetadataValue.md(listing or "every conversation complete"),
        },
    )


def types_unchanged(tables: tuple[str, ...]) -> dg.AssetChecksDefinition:
    """The type check of each raw table the modules turned on load."""
    return dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                "types_unchanged",
                asset=raw_key(table),
                description="No column or custom attribute received a value of another type.",
            )
            for table in tables
        ],
        can_subset=True,
        name="types_unchanged",
    )(_types_unchanged)


@dg.definitions
def defs() -> dg.Definitions:
    tables = setup_selection().tables
    checks = [types_unchanged(tables)]
    if PARTS_KEY.path[-1] in tables:
        checks.append(conversation_parts_complete)
    return dg.Definitions(asset_checks=checks)
