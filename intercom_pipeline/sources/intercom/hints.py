"""The dlt arguments every raw table's resource is declared with: its keys and typed columns."""

from __future__ import annotations

from typing import Any

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.settings import COLUMNS

# The configuration section of the source and of its resources (`sources.intercom.…`). dlt
# would otherwise name it after the module defining each function.
SECTION = "intercom"


def merged(table: str, *keys: str, **extra: Any) -> dict[str, Any]:
    """Resource arguments for a table merged on (workspace_id, *keys), with its typed columns."""
    return {
        "name": table,
        "section": SECTION,
        "primary_key": ["workspace_id", *keys],
        "write_disposition": "merge",
        # dlt annotates hint dicts in place: every column of every resource gets its own dict.
        "columns": {
            name: dict(hint)
            for name, hint in {
                "workspace_id": {"data_type": "text"},
                **COLUMNS.get(table, {}),
            }.items()
        },
        **extra,
    }


def replace_children(table: str, parent_key: str, *keys: str) -> dict[str, Any]:
    """A link table whose rows for a parent are replaced whenever that parent is read again.

    Its resource yields `helpers.with_parent_markers` rows, so a parent left with no children
    still has its old rows deleted.
    """
    arguments = merged(
        table,
        parent_key,
        *keys,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key=["workspace_id", parent_key],
    )
    arguments["columns"][helpers.PARENT_MARKER] = {"data_type": "bool", "hard_delete": True}
    return arguments
