"""The raw tables, family by family: the one declaration of which tables load together.

A family is a parent table and its children, the transformers fed by what the parent's resource
yields. The parent's cursor moves with that read: a parent loaded without its children would
never fetch their rows again, and children loaded alone would move the parent's cursor past rows
never stored. So a family always loads whole (`whole_families`), the source feeds each child from
the parent named here, and the schedules sync whole families.

No dlt and no Dagster here: the CLI and the definitions import it cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A parent table and the tables read from what its resource yields."""

    parent: str
    children: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.parent, *self.children)


# Grouped as the modules that read them (and the schedules that sync them).
SETTINGS = (
    Family("admins"),
    Family("teams", ("team_admins",)),
    Family("tags"),
    Family("segments"),
    Family("data_attributes"),
    Family("ticket_types"),
    Family("ticket_states"),
)
ADMIN_ACTIVITY = Family("admin_activity_logs")
HELP_CENTER = (Family("help_centers"), Family("collections"), Family("articles"))
COMPANIES = Family("companies")
CONTACTS = Family("contacts", ("contact_tags", "contact_companies"))
CONVERSATIONS = Family(
    "conversations",
    (
        "conversation_parts",
        "conversation_contacts",
        "conversation_handling_events",
        "conversation_content_sources",
    ),
)
TICKETS = Family("tickets", ("ticket_parts",))
DELETIONS = Family("deletions")

FAMILIES: tuple[Family, ...] = (
    *SETTINGS,
    ADMIN_ACTIVITY,
    *HELP_CENTER,
    COMPANIES,
    CONTACTS,
    CONVERSATIONS,
    TICKETS,
    DELETIONS,
)


def tables_of(*families: Family) -> tuple[str, ...]:
    """The tables of these families, family by family, each parent first."""
    return tuple(table for family in families for table in family.tables)


RAW_TABLES = tables_of(*FAMILIES)
# Wide enough for every raw table's name, so per-table listings line up.
TABLE_NAME_WIDTH = max(map(len, RAW_TABLES))

_FAMILY_OF = {table: family for family in FAMILIES for table in family.tables}


def family_of(table: str) -> Family:
    """The family `table` belongs to (KeyError for a table that is not raw)."""
    return _FAMILY_OF[table]


def parent_of(table: str) -> str | None:
    """The table whose resource feeds `table`'s transformer; None for a parent."""
    family = _FAMILY_OF[table]
    return None if table == family.parent else family.parent


def whole_families(tables: Iterable[str]) -> list[str]:
    """The tables with every other member of their families, in `RAW_TABLES` order.

    A name that is no raw table is left out.
    """
    wanted = set(tables)
    for family in FAMILIES:
        if wanted & set(family.tables):
            wanted |= set(family.tables)
    return [t for t in RAW_TABLES if t in wanted]


def _families(*parents: str) -> tuple[Family, ...]:
    by_parent = {family.parent: family for family in FAMILIES}
    return tuple(by_parent[parent] for parent in parents)


# The modules a user turns on and off (INTERCOM_MODULES), each the families it reads. `deletions`
# is no module: its tombstones load while any module they mark (conversations, contacts,
# companies) is on.
MODULES: dict[str, tuple[Family, ...]] = {
    "conversations": (CONVERSATIONS,),
    "tickets": (*_families("ticket_types", "ticket_states"), TICKETS),
    "contacts": (CONTACTS,),
    "companies": (COMPANIES,),
    "admins": _families("admins", "teams"),
    "tags": _families("tags"),
    "segments": _families("segments"),
    "data_attributes": _families("data_attributes"),
    "admin_activity_logs": (ADMIN_ACTIVITY,),
    "help_center": HELP_CENTER,
}
_MARKED_BY_DELETIONS = ("conversations", "contacts", "companies")


def module_tables(modules: Iterable[str]) -> tuple[str, ...]:
    """The raw tables the modules read, in `RAW_TABLES` order (KeyError for an unknown module)."""
    modules = set(modules)
    wanted = {table for module in modules for table in tables_of(*MODULES[module])}
    if modules & set(_MARKED_BY_DELETIONS):
        wanted |= set(DELETIONS.tables)
    return tuple(table for table in RAW_TABLES if table in wanted)


def module_of(table: str) -> str:
    """The module that reads `table` (`deletions` for the tombstones)."""
    for module, families in MODULES.items():
        if table in tables_of(*families):
            return module
    return family_of(table).parent
