"""Which parts of the graph the chosen modules (INTERCOM_MODULES) leave out, and why.

A module turned off takes its raw tables out of the graph and the schedules; its tables stay
in the warehouse, and turning it back on resumes from their cursors. A mart declares the
modules its rows stand for (`meta.intercom_modules` in its yml): while one is off the mart is
not built, nor anything built from it, and the assets that read it leave the graph too. A
model that only looks something up in an off module's tables (a tag's name) still builds, from
what the tables hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import dagster as dg

from intercom_pipeline.defs.keys import mart_key, raw_key
from intercom_pipeline.sources.intercom.selection import SetupSelection, setup_selection
from intercom_pipeline.sources.intercom.tables import RAW_TABLES
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.lock import Log
from intercom_pipeline.warehouse.transform import mark_not_built, prepare_manifest

MODULES_META = "intercom_modules"


@dataclass(frozen=True)
class ModelsOff:
    """The dbt models left out of the build: each name -> why, in a sentence."""

    reasons: dict[str, str]

    def dbt_exclude(self) -> str | None:
        """The `--exclude` argument naming them (None: nothing is left out)."""
        return " ".join(sorted(self.reasons)) or None


def models_off(manifest: Mapping[str, Any], selection: SetupSelection) -> ModelsOff:
    """The marts whose declared modules are off, and every model built from them."""
    off = set(selection.modules_off)
    nodes = manifest["nodes"]
    reasons: dict[str, str] = {}
    for unique_id, node in nodes.items():
        declared = node.get("config", {}).get("meta", {}).get(MODULES_META, [])
        if node.get("resource_type") != "model" or not (missing := off.intersection(declared)):
            continue
        why = f"its module {', '.join(sorted(missing))} is off (INTERCOM_MODULES)"
        reasons.setdefault(node["name"], f"Not built: {why}.")
        for child in _descendants(manifest["child_map"], unique_id):
            if child.startswith("model."):
                reasons.setdefault(
                    nodes[child]["name"], f"Not built: it reads {node['name']}, and {why}."
                )
    _prune_unused(manifest, selection, reasons)
    return ModelsOff(reasons)


def _prune_unused(
    manifest: Mapping[str, Any], selection: SetupSelection, reasons: dict[str, str]
) -> None:
    """Add the staging models that read an off module's table and feed nothing still built.

    So an off module's raw tables leave the graph whole, unless a built mart still looks
    something up in them (then they stay, not synced, as what that mart reads).
    """
    nodes, child_map = manifest["nodes"], manifest["child_map"]
    off_sources = {
        f"source.{node['package_name']}.intercom.{table}"
        for node in nodes.values()
        for table in RAW_TABLES
        if table not in selection.tables
    }
    left_out = {uid for uid, node in nodes.items() if node["name"] in reasons}
    changed = True
    while changed:
        changed = False
        for unique_id, node in nodes.items():
            if node.get("resource_type") != "model" or unique_id in left_out:
                continue
            reads = set(node["depends_on"]["nodes"])
            feeds = {c for c in child_map.get(unique_id, []) if c.startswith("model.")}
            if reads & (off_sources | left_out) and feeds <= left_out:
                left_out.add(unique_id)
                reasons[node["name"]] = "Not built: what it reads is off (INTERCOM_MODULES)."
                changed = True


@cache
def dbt_manifest() -> dict[str, Any]:
    """The dbt project's manifest (parsed when stale), read once per process."""
    return json.loads(prepare_manifest().read_text())


def _descendants(child_map: Mapping[str, list[str]], unique_id: str) -> set[str]:
    seen: set[str] = set()
    stack = [unique_id]
    while stack:
        for child in child_map.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def keys_off(selection: SetupSelection | None = None) -> set[dg.AssetKey]:
    """The raw tables and marts that leave the graph with the modules that are off."""
    selection = selection or setup_selection()
    manifest = dbt_manifest()
    raw = {raw_key(t) for t in RAW_TABLES if t not in selection.tables}
    return raw | {mart_key(name) for name in models_off(manifest, selection).reasons}


def reads_on(reads: Iterable[dg.AssetKey], off: set[dg.AssetKey]) -> bool:
    """Whether an asset reading `reads` stays in the graph (none of them is off)."""
    return not set(reads) & off


def say_why_not_built(warehouse: Warehouse, reasons: dict[str, str], log: Log) -> None:
    """Name the marts the build left out, and comment the tables earlier builds made."""
    log.info(
        "Not built while their modules are off (INTERCOM_MODULES): "
        + "; ".join(f"{name}: {why}" for name, why in sorted(reasons.items()))
    )
    if marked := mark_not_built(warehouse, reasons):
        log.info(f"Commented {', '.join(marked)} with why they no longer change")
