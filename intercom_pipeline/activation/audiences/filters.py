"""Custom-segment filters: a condition tree from the audiences file, compiled into DuckDB SQL.

A custom audience is written as conditions on contact properties ("subscription status is Free
Trial OR country is USA") and evaluated against `analytics.contacts`. The file is user input, so
it reaches the SQL in two ways only, and each is safe by construction rather than by spotting
"suspicious" text:

- Values are bound parameters, never spliced into the statement, so they are accepted whatever
  they contain (`Plan "Select"`, `Bed & Table's`, `'; drop table x; --`, newlines, unicode) and
  match exactly that text. Only their type, emptiness and length are checked.
- Names are checked against what exists: an operator against `OPERATORS`, a property against the
  table's actual columns (pasted into the SQL quoted, and only when it is one of them) or as
  `custom_attributes.<name>`, whose JSON path is a bound parameter too. Before the table is known
  (when the file loads) a property must at least look like one (`check_property`), so a typo or an
  injection attempt through a name fails early, with an error naming it and the fix.

Everything here is pure Python, so a filter can be checked before any warehouse exists.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intercom_pipeline.settings import ConfigurationError

OPERATORS = (
    "is",
    "is_not",
    "contains",
    "not_contains",
    "starts_with",
    "greater_than",
    "less_than",
    "is_set",
    "is_unset",
)
MAX_DEPTH = 10
MAX_CONDITIONS = 200
MAX_VALUE_LENGTH = 1000
CUSTOM_ATTRIBUTES = "custom_attributes"

_GROUPS = {"all": " and ", "any": " or "}
_CONDITION_KEYS = frozenset({"property", "operator", "value"})
_PRESENCE_OPERATORS = frozenset({"is_set", "is_unset"})
# Negated operators are true when the property is missing: a contact without a country "is not
# USA", which is what someone excluding USA from a campaign means.
_NEGATED = frozenset({"is_not", "not_contains", "is_unset"})
# The shape of a column of analytics.contacts (dbt models name them in snake case). Only a name
# that is also one of the table's actual columns is ever pasted into the SQL.
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Intercom custom attribute names: letters, digits, spaces, underscores and hyphens. The name
# travels as a bound JSON path, and no quote or backslash can get in, so the path is well formed.
_ATTRIBUTE_NAME = re.compile(r"[\w -]{1,100}")

# What kind of value each operator compares against, and how it is described in errors.
_KINDS = {
    "is": ("text", "boolean", "number"),
    "is_not": ("text", "boolean", "number"),
    "contains": ("text",),
    "not_contains": ("text",),
    "starts_with": ("text",),
    "greater_than": ("number", "timestamp"),
    "less_than": ("number", "timestamp"),
}
_KIND_HINTS = {
    ("text", "boolean", "number"): "a text, a number or true/false",
    ("text",): "a text",
    ("number", "timestamp"): "a number (42) or an ISO date (2024-05-01 or 2024-05-01T09:30:00Z)",
}
# How the property is read for each kind of value, and how the bound value is used. Text
# compares case-insensitively; the casts are `try_` so a stray value is null, not an error.
_OPERAND = {
    "text": ("lower(cast({x} as varchar))", "lower(?)"),
    "boolean": ("try_cast({x} as boolean)", "?"),
    "number": ("try_cast({x} as double)", "?"),
    "timestamp": ("try_cast({x} as timestamp)", "?"),
}
# `contains` and `starts_with` are DuckDB functions, not LIKE, so `%` and `_` in a value are
# literal characters rather than wildcards.
_COMPARISON = {
    "is": "{lhs} = {rhs}",
    "is_not": "{lhs} = {rhs}",
    "contains": "contains({lhs}, {rhs})",
    "not_contains": "contains({lhs}, {rhs})",
    "starts_with": "starts_with({lhs}, {rhs})",
    "greater_than": "{lhs} > {rhs}",
    "less_than": "{lhs} < {rhs}",
}
_PRESENCE = "cast({x} as varchar) <> ''"


class FilterError(ConfigurationError):
    """A filter the project cannot evaluate; the message says where in the filter and the fix.

    A ConfigurationError (so a ValueError), because a filter is part of the audiences file.
    """


@dataclass(frozen=True)
class _Condition:
    property: str
    operator: str  # canonical spelling, one of OPERATORS
    kind: str | None  # text, boolean, number or timestamp; None for is_set / is_unset
    param: Any  # the value as bound to the SQL
    where: str  # location in the filter, for errors found while compiling


@dataclass(frozen=True)
class _Group:
    joiner: str  # all or any
    children: tuple[_Condition | _Group, ...]


_Node = _Condition | _Group


def compile_filter(node: Any, columns: frozenset[str] | set[str]) -> tuple[str, list[Any]]:
    """Compile a filter into a boolean SQL expression over `analytics.contacts`.

    Every condition evaluates to true or false, never null, so the expression can also be negated
    by the caller (`not (...)`) without silently dropping contacts with missing properties.

    Args:
        node: a condition `{"property", "operator", "value"}` or a group `{"all": [...]}` /
            `{"any": [...]}`, as read from the audiences file.
        columns: the plain column names a property may name (the table's columns).

    Returns:
        The SQL expression and the parameters for its `?` placeholders, in order.

    Raises:
        FilterError: the filter is malformed or names a property the table does not have.
    """
    return _compile(_Parser().node(node, "filter", 1), columns)


def check_filter(node: Any) -> None:
    """Validate a filter's structure, operators, property names and values, without the table.

    The audiences file is checked when it loads, before any warehouse exists; only whether a
    well-formed property is one of the table's columns waits for `compile_filter`.

    Raises:
        FilterError: the filter is malformed.
    """
    _Parser().node(node, "filter", 1)


def property_sql(prop: str, columns: frozenset[str] | set[str]) -> tuple[str, list[Any]]:
    """The SQL that reads one contact property: one of the table's columns or a custom attribute.

    The column must be one of `columns` (the allow-list), so no other name reaches the SQL; a
    custom attribute's JSON path is a bound parameter.

    Returns:
        The SQL expression and the parameters for its `?` placeholders, in order.

    Raises:
        FilterError: the property is neither one of `columns` nor a valid custom attribute.
    """
    return _property_sql(prop, columns, "property")


def check_property(prop: str, where: str) -> None:
    """Check that a property (of a filter or a mapping) is shaped like one, before the table.

    A column name is an identifier, a custom attribute `custom_attributes.<name>` with an
    Intercom attribute name. Anything else (a typo like `plan seats`, or SQL such as
    `email; drop table x`) can never be a property, so it is refused when the file loads rather
    than at the first sync.

    Raises:
        FilterError: the name is not a property name; the message names it and the valid forms.
    """
    prefix, dot, name = prop.partition(".")
    if dot and prefix == CUSTOM_ATTRIBUTES:
        _check_attribute_name(name, where)
    elif not _COLUMN_NAME.fullmatch(prop):
        raise FilterError(
            f"{where}: {_show(prop)} is rejected: a property name must be a column of "
            "analytics.contacts (letters, digits and underscores, as in country or signed_up_at) "
            "or custom_attributes.<name> for a custom attribute"
        )


class _Parser:
    """Validates a raw filter tree into nodes, counting conditions so a huge filter fails fast."""

    def __init__(self) -> None:
        self.conditions = 0

    def node(self, raw: Any, where: str, depth: int) -> _Node:
        """A condition or one group, never both, so what a node means is never a guess."""
        if not isinstance(raw, dict):
            raise FilterError(
                f"{where}: expected a mapping, got {type(raw).__name__}: write a condition "
                "{property, operator, value} or a group {all: [...]} / {any: [...]}"
            )
        groups = [key for key in _GROUPS if key in raw]
        if len(groups) + ("property" in raw) != 1:
            raise FilterError(
                f"{where}: a node is either a condition (with `property`) or one group (`all` or "
                f"`any`), found keys {sorted(map(str, raw))}: split it into separate nodes"
            )
        if groups:
            return self.group(raw, groups[0], where, depth)
        return self.condition(raw, where)

    def group(self, raw: dict[Any, Any], joiner: str, where: str, depth: int) -> _Group:
        """An `all` / `any` group, nested at most MAX_DEPTH deep so the SQL stays bounded."""
        if depth > MAX_DEPTH:
            raise FilterError(
                f"{where}: groups are nested more than {MAX_DEPTH} levels deep: flatten the filter"
            )
        if set(raw) != {joiner}:
            raise FilterError(
                f"{where}: unknown keys {sorted(map(str, set(raw) - {joiner}))} next to "
                f"`{joiner}`: a group has only `all` or `any`"
            )
        items = raw[joiner]
        if not isinstance(items, list) or not items:
            raise FilterError(
                f"{where}.{joiner}: expected a non-empty list of conditions or groups"
            )
        children = tuple(
            self.node(item, f"{where}.{joiner}[{i}]", depth + 1) for i, item in enumerate(items)
        )
        return _Group(joiner, children)

    def condition(self, raw: dict[Any, Any], where: str) -> _Condition:
        """One condition: property and operator checked as names, the value typed for binding."""
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(
                f"{where}: more than {MAX_CONDITIONS} conditions: use an Intercom segment or tag "
                "for audiences this detailed"
            )
        unknown = set(raw) - _CONDITION_KEYS
        if unknown:
            raise FilterError(
                f"{where}: unknown keys {sorted(map(str, unknown))}: a condition has only "
                "`property`, `operator` and `value`"
            )
        prop = raw["property"]
        if not isinstance(prop, str):
            raise FilterError(f"{where}: `property` must be a text, got {type(prop).__name__}")
        check_property(prop, f"{where}.property")
        operator = _operator(raw.get("operator"), where)
        if operator in _PRESENCE_OPERATORS:
            if "value" in raw:
                raise FilterError(f"{where}: `{operator}` takes no value: remove `value`")
            return _Condition(prop, operator, None, None, where)
        if "value" not in raw:
            raise FilterError(f"{where}: `{operator}` needs a `value`")
        kind, param = _operand(operator, raw["value"], f"{where}.value")
        return _Condition(prop, operator, kind, param, where)


def _operator(raw: Any, where: str) -> str:
    """The canonical operator: case-insensitive, spaces accepted for underscores ("is not")."""
    operator = "_".join(raw.lower().split()) if isinstance(raw, str) else None
    if operator not in OPERATORS:
        shown = _show(raw) if isinstance(raw, str) else repr(raw)
        raise FilterError(
            f"{where}: unknown operator {shown}: use one of {', '.join(OPERATORS)} "
            '(spaces work too, as in "is not")'
        )
    return operator


def _operand(operator: str, value: Any, where: str) -> tuple[str, Any]:
    """The kind of comparison a value asks for, and the value to bind for it.

    A text is bound exactly as written: its content is never inspected, since it never becomes
    SQL, and any character may be part of a real contact property.
    """
    if value is None or value == "":
        raise FilterError(
            f"{where}: the value is empty: use `is_set` or `is_unset` to test for a missing value"
        )
    if isinstance(value, bool):
        kind, param = "boolean", value
    elif isinstance(value, int | float):
        kind, param = "number", _number(value, where)
    elif isinstance(value, str):
        kind, param = "text", _text(value, where)
    else:
        raise FilterError(
            f"{where}: expected a text, a number or true/false, got {type(value).__name__}: "
            "write one value per condition and combine conditions with `any`"
        )
    allowed = _KINDS[operator]
    if kind == "text" and "timestamp" in allowed:
        kind, param = "timestamp", _timestamp(value)
    if kind not in allowed or param is None:
        shown = _show(value) if isinstance(value, str) else json.dumps(value)
        raise FilterError(f"{where}: `{operator}` needs {_KIND_HINTS[allowed]}, got {shown}")
    return kind, param


def _number(value: int | float, where: str) -> float:
    """The value as a finite float: NaN or infinity would make every comparison meaningless."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise FilterError(f"{where}: {_show(str(value))} is not a finite number")
    return number


def _text(value: str, where: str) -> str:
    """The text unchanged, unless it is longer than MAX_VALUE_LENGTH.

    No contact property is that long, so such a value is a paste mistake (a whole file, a list),
    not something to look for; the length is the only limit, not a safety check.
    """
    if len(value) > MAX_VALUE_LENGTH:
        raise FilterError(
            f"{where}: {len(value)} characters, more than {MAX_VALUE_LENGTH}: shorten it"
        )
    return value


def _timestamp(text: str) -> datetime | None:
    """An ISO date or datetime as a naive UTC datetime, like every *_at column; None if not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _compile(node: _Node, columns: frozenset[str] | set[str]) -> tuple[str, list[Any]]:
    """The SQL of a node and its parameters, children's parameters in placeholder order."""
    if isinstance(node, _Condition):
        return _condition_sql(node, columns)
    parts, params = [], []
    for child in node.children:
        sql, child_params = _compile(child, columns)
        parts.append(sql)
        params += child_params
    return f"({_GROUPS[node.joiner].join(parts)})", params


def _condition_sql(node: _Condition, columns: frozenset[str] | set[str]) -> tuple[str, list[Any]]:
    """One condition as SQL that is never null, so negating it keeps missing properties in."""
    column, params = _property_sql(node.property, columns, f"{node.where}.property")
    if node.kind is None:
        test = _PRESENCE.format(x=column)
    else:
        read, bind = _OPERAND[node.kind]
        test = _COMPARISON[node.operator].format(lhs=read.format(x=column), rhs=bind)
        params = [*params, node.param]
    sql = f"coalesce({test}, false)"
    return (f"not {sql}" if node.operator in _NEGATED else sql), params


def _property_sql(
    prop: str, columns: frozenset[str] | set[str], where: str
) -> tuple[str, list[Any]]:
    """A property as SQL: a column of the allow-list, quoted, or a custom attribute's bound path."""
    if prop in columns:
        return _quote(prop), []
    prefix, dot, name = prop.partition(".")
    if prefix != CUSTOM_ATTRIBUTES or not dot or CUSTOM_ATTRIBUTES not in columns:
        custom = f" or {CUSTOM_ATTRIBUTES}.<name>" if CUSTOM_ATTRIBUTES in columns else ""
        raise FilterError(
            f"{where}: unknown property {_show(prop)}: use one of "
            f"{', '.join(sorted(columns))}{custom}"
        )
    _check_attribute_name(name, where)
    path = "$." + json.dumps(name, ensure_ascii=False)
    return f"json_extract_string({_quote(CUSTOM_ATTRIBUTES)}, ?)", [path]


def _check_attribute_name(name: str, where: str) -> None:
    """Refuse a custom attribute name Intercom could not have, so the JSON path is well formed."""
    if not _ATTRIBUTE_NAME.fullmatch(name) or not name.strip():
        raise FilterError(
            f"{where}: {_show(name)} is not a custom attribute name: use its name as in Intercom, "
            "1-100 letters, digits, spaces, underscores or hyphens"
        )


def _quote(column: str) -> str:
    """An allow-listed column name as a quoted identifier, safe whatever characters it has."""
    return '"' + column.replace('"', '""') + '"'


def _show(text: str) -> str:
    """User text quoted for an error message, cut short so a huge value stays readable."""
    return repr(text if len(text) <= 80 else text[:77] + "...")
