"""What a user chose to sync: the modules and the fields left out, validated once.

INTERCOM_MODULES and INTERCOM_EXCLUDE_FIELDS: a typo names itself and the fix.

No dlt and no Dagster here: the definitions read it to shape the graph and the schedules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom.tables import MODULES, RAW_TABLES, module_tables

# Columns no sync can do without: the merge keys, the incremental cursors and dlt's own (and
# every `*_id`: the keys tables are merged and joined on).
KEY_FIELDS = frozenset({"workspace_id", "id", "updated_at", "_dlt_id", "_dlt_load_id"})


@dataclass(frozen=True)
class SetupSelection:
    """The modules turned on (in `MODULES` order) and the fields left out ("table.field")."""

    modules: tuple[str, ...]
    excluded_fields: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        """The raw tables the modules read (the rest keep what they hold)."""
        return module_tables(self.modules)

    @property
    def modules_off(self) -> tuple[str, ...]:
        return tuple(module for module in MODULES if module not in self.modules)

    def excluded_by_table(self) -> dict[str, list[str]]:
        """Table -> its fields left out."""
        by_table: dict[str, list[str]] = {}
        for entry in self.excluded_fields:
            table, field = entry.split(".", 1)
            by_table.setdefault(table, []).append(field)
        return by_table


def setup_selection(environ: Mapping[str, str] | None = None) -> SetupSelection:
    """INTERCOM_MODULES (default: every module) and INTERCOM_EXCLUDE_FIELDS, validated."""
    env = os.environ if environ is None else environ
    return SetupSelection(
        modules_setting(env.get("INTERCOM_MODULES", "")),
        excluded_fields_setting(env.get("INTERCOM_EXCLUDE_FIELDS", "")),
    )


def modules_setting(raw: str) -> tuple[str, ...]:
    """The modules named in `raw` (comma-separated; empty or `all`: every module)."""
    names = {name.strip().lower() for name in raw.split(",") if name.strip()}
    if not names or names == {"all"}:
        return tuple(MODULES)
    if unknown := sorted(names - set(MODULES)):
        raise ConfigurationError(
            f"INTERCOM_MODULES names {', '.join(unknown)}, which is no module. Choose among "
            f"{', '.join(MODULES)} (comma-separated), or leave it unset for all of them."
        )
    return tuple(module for module in MODULES if module in names)


def excluded_fields_setting(raw: str) -> tuple[str, ...]:
    """The "table.field" entries of `raw`, sorted; each a top-level field a sync can lack."""
    entries = sorted({entry.strip().lower() for entry in raw.split(",") if entry.strip()})
    for entry in entries:
        table, _, field = entry.partition(".")
        if table not in RAW_TABLES or not field:
            raise ConfigurationError(
                f"INTERCOM_EXCLUDE_FIELDS has {entry!r}: write table.field with a raw table "
                f"(e.g. contacts.phone); the tables are {', '.join(RAW_TABLES)}."
            )
        if "." in field:
            raise ConfigurationError(
                f"INTERCOM_EXCLUDE_FIELDS has {entry!r}: only whole top-level fields can be "
                f"left out (e.g. {table}.{field.split('.')[0]}); nested values are stored as "
                "one JSON column."
            )
        if field in KEY_FIELDS or field.endswith("_id"):
            raise ConfigurationError(
                f"INTERCOM_EXCLUDE_FIELDS has {entry!r}: {field} is a key or cursor the sync "
                "and the models join on, so it cannot be left out. Remove it from the list."
            )
    return tuple(entries)
