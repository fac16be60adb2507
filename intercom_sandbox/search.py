"""Intercom's search query language (POST /contacts|conversations|tickets/search).

A query is validated completely by `compile_query`, which raises `SearchError` for anything
Intercom answers with 400, and is compiled once into nested closures so the predicate can be
run over many records cheaply and never raises.
"""

from __future__ import annotations

import html
import json
import math
import operator
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

FieldType = Literal["string", "integer", "float", "boolean", "date"]
Getter = Callable[[str], object]
Predicate = Callable[[Getter], bool]
_Test = Callable[[object], bool]

# Intercom: "max 2 nested filters". The top-level group is level 0, so top → group → group is
# the deepest query accepted.
MAX_GROUP_DEPTH = 2
# Intercom: "max 15 filters for each AND or OR group" (filters and sub-groups both count).
MAX_GROUP_ITEMS = 15

_DAY_SECONDS = 86_400
_CODE = "parameter_invalid"
_OPERATORS = ("=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$")
# Negative operators match when no element of the record value matches the positive one.
_POSITIVE_OF = {"!=": "=", "NIN": "IN", "!~": "~"}
_LIST_OPERATORS = ("IN", "NIN")
_ALLOWED: dict[str, tuple[str, ...]] = {
    "string": ("=", "!=", "IN", "NIN", "~", "!~", "^", "$"),
    "integer": ("=", "!=", "IN", "NIN", "<", ">", "<=", ">="),
    "float": ("=", "!=", "IN", "NIN", "<", ">", "<=", ">="),
    "boolean": ("=", "!=", "IN", "NIN"),
    # Second precision (conversations, tickets); <= and >= only per field, see compile_query.
    "date": ("=", "!=", "IN", "NIN", "<", ">"),
}
# Contact search truncates dates to a day and rejects every other operator on them.
_DAY_DATE_OPERATORS = ("=", "<", ">")
_RANGE_OPERATORS = ("<=", ">=")
# Contacts' tag_id accepts only = and != ("Every other operator returns an error").
_EQUALITY_ONLY_FIELDS = frozenset({"tag_id"})
# Intercom matches source.body against each word of the body, not the whole value.
_WORD_MATCHED_FIELDS = frozenset({"source.body"})
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_VALUE_HINTS = {
    "string": "use a string",
    "integer": "use an integer",
    "float": "use a number",
    "boolean": "use true or false",
    "date": "use a UNIX timestamp in seconds (an integer)",
}

_SHAPE_HINT = (
    'Send a filter {"field", "operator", "value"} '
    'or a group {"operator": "AND"|"OR", "value": [...]}.'
)

_INTEGER_RE = re.compile(r"-?\d+")
_NUMBER_RE = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_TAG_RE = re.compile(r"<[^>]*>")
_WORD_RE = re.compile(r"[^\W_]+")


class SearchError(Exception):
    """A query Intercom would reject with 400; .code is the error.list code, .message the text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def compile_query(
    query: object,
    field_type: Callable[[str], FieldType | None],
    *,
    day_granular_dates: bool,
    utc_offset_seconds: int = 0,
    date_range_operators: frozenset[str] = frozenset(),
) -> Callable[[Callable[[str], object]], bool]:
    """Validate `query` as Intercom would and compile it once into a record predicate.

    Args:
        query: the decoded JSON `query` of the request body (a filter or an AND/OR group).
        field_type: the type of a searchable field, or None when the field is not searchable.
        day_granular_dates: True for contact search, where dates match by calendar day.
        utc_offset_seconds: the workspace timezone, which sets where a calendar day starts.
        date_range_operators: date fields that also accept <= and >= (tickets' created_at).

    Returns:
        A predicate taking `get(field)`, which returns the record's value for a field.

    Raises:
        SearchError: for anything Intercom answers with 400.
    """
    compiler = _Compiler(field_type, day_granular_dates, utc_offset_seconds, date_range_operators)
    return compiler.node(query, depth=0)


def _error(message: str) -> SearchError:
    return SearchError(_CODE, message)


def _json(value: object) -> str:
    """Render a value as the client sent it, for error messages."""
    return json.dumps(value, default=str)


class _Compiler:
    """Holds the endpoint's date rules while walking the query tree."""

    def __init__(
        self,
        field_type: Callable[[str], FieldType | None],
        day_granular_dates: bool,
        utc_offset_seconds: int,
        date_range_fields: frozenset[str],
    ) -> None:
        self.field_type = field_type
        self.day_granular_dates = day_granular_dates
        self.utc_offset_seconds = utc_offset_seconds
        self.date_range_fields = date_range_fields

    def node(self, query: object, depth: int) -> Predicate:
        if not isinstance(query, dict):
            raise _error(
                f"Each query and filter must be a JSON object, got {_json(query)}. {_SHAPE_HINT}"
            )
        if "field" in query:
            return self.filter(query)
        op = query.get("operator")
        if op in ("AND", "OR"):
            return self.group(op, query.get("value"), depth)
        if isinstance(op, str) and op in _OPERATORS:
            raise _error(f"A filter with operator '{op}' is missing 'field'.")
        if "operator" not in query:
            raise _error(f"The query has neither 'field' nor 'operator'. {_SHAPE_HINT}")
        raise _error(
            f"Unknown group operator {_json(op)}; a group's 'operator' must be 'AND' or 'OR' "
            "(upper case)."
        )

    def group(self, op: str, items: object, depth: int) -> Predicate:
        if depth > MAX_GROUP_DEPTH:
            raise _error(
                f"The query nests AND/OR groups {depth} levels below the top-level group; "
                f"Intercom allows at most {MAX_GROUP_DEPTH} nested levels. Flatten the query, "
                "e.g. use IN/NIN instead of an OR of '=' filters."
            )
        if not isinstance(items, list):
            raise _error(f"The 'value' of an {op} group must be an array of filters.")
        if not items:
            raise _error(
                f"The {op} group is empty; give it between 1 and {MAX_GROUP_ITEMS} filters."
            )
        if len(items) > MAX_GROUP_ITEMS:
            raise _error(
                f"The {op} group has {len(items)} filters; Intercom allows at most "
                f"{MAX_GROUP_ITEMS} per AND or OR group. Split it into nested groups or use IN/NIN."
            )
        predicates = tuple(self.node(item, depth + 1) for item in items)
        if len(predicates) == 1:
            return predicates[0]
        return _all_of(predicates) if op == "AND" else _any_of(predicates)

    def filter(self, spec: dict[str, object]) -> Predicate:
        field = spec["field"]
        if not isinstance(field, str) or not field:
            raise _error(f"A filter's 'field' must be a non-empty string, got {_json(field)}.")
        if "operator" not in spec:
            raise _error(f"The filter on '{field}' is missing 'operator'.")
        op = spec["operator"]
        if not isinstance(op, str) or op not in _OPERATORS:
            raise _error(
                f"Unknown operator {_json(op)} on field '{field}'; use one of "
                f"{', '.join(_OPERATORS)}."
            )
        if "value" not in spec:
            raise _error(
                f"The filter on '{field}' is missing 'value'; send null to search for empty values."
            )
        kind = self.field_type(field)
        if kind is None:
            raise _error(f"'{field}' is not a searchable field for this endpoint.")
        self.check_operator(field, kind, op)
        value = spec["value"]
        if value is None:
            if op not in ("=", "!="):
                raise _error(
                    f"A null value on '{field}' only works with '=' (is empty) or '!=' "
                    f"(is present), not '{op}'."
                )
            return _null_matcher(field, negate=op == "!=")
        positive = _POSITIVE_OF.get(op, op)
        values = _parse_values(field, kind, op, value)
        if kind == "string":
            test = _string_test(field, positive, values)
        elif kind == "boolean":
            test = _member_test(frozenset(values), _as_bool)
        elif kind == "date":
            test = self.date_test(positive, values)
        else:
            test = _number_test(positive, values, _as_number)
        return _matcher(field, test, negate=op in _POSITIVE_OF)

    def check_operator(self, field: str, kind: FieldType, op: str) -> None:
        if field in _EQUALITY_ONLY_FIELDS and op not in ("=", "!="):
            raise _error(f"Operator '{op}' is not supported on '{field}'; only '=' and '!=' are.")
        if kind == "date" and self.day_granular_dates:
            if op not in _DAY_DATE_OPERATORS:
                raise _error(
                    f"Operator '{op}' is not supported on date fields ('{field}'); use '=', '<' or "
                    "'>' (dates match by calendar day in the workspace's timezone)."
                )
            return
        if kind == "date" and op in _RANGE_OPERATORS and field in self.date_range_fields:
            return
        allowed = _ALLOWED[kind]
        if op not in allowed:
            raise _error(
                f"Operator '{op}' is not allowed on {kind} field '{field}'; allowed operators: "
                f"{', '.join(allowed)}."
            )

    def date_test(self, op: str, values: list[int]) -> _Test:
        if not self.day_granular_dates:
            return _number_test(op, values, _as_timestamp)
        offset = self.utc_offset_seconds
        day_start = (values[0] + offset) // _DAY_SECONDS * _DAY_SECONDS - offset
        next_day = day_start + _DAY_SECONDS
        if op == "=":
            return lambda x: (t := _as_timestamp(x)) is not None and day_start <= t < next_day
        if op == ">":
            return lambda x: (t := _as_timestamp(x)) is not None and t >= next_day
        return lambda x: (t := _as_timestamp(x)) is not None and t < day_start


def _all_of(predicates: tuple[Predicate, ...]) -> Predicate:
    def all_of(get: Getter) -> bool:
        for predicate in predicates:
            if not predicate(get):
                return False
        return True

    return all_of


def _any_of(predicates: tuple[Predicate, ...]) -> Predicate:
    def any_of(get: Getter) -> bool:
        for predicate in predicates:
            if predicate(get):
                return True
        return False

    return any_of


def _matcher(field: str, test: _Test, *, negate: bool) -> Predicate:
    """Apply a positive test to a scalar, or to any element of a multi-valued field."""

    def positive(get: Getter) -> bool:
        value = get(field)
        if isinstance(value, list):
            return any(map(test, value))
        return test(value)

    if not negate:
        return positive

    def negative(get: Getter) -> bool:
        return not positive(get)

    return negative


def _null_matcher(field: str, *, negate: bool) -> Predicate:
    """`= null` finds records without a value (None or an empty list); `!= null` the others."""

    def is_empty(get: Getter) -> bool:
        value = get(field)
        return (value is None or (isinstance(value, list) and not value)) != negate

    return is_empty


def _parse_values(field: str, kind: FieldType, op: str, value: object) -> list[Any]:
    """Check the value's shape and type up front, as Intercom rejects mismatches with 400."""
    if op in _LIST_OPERATORS:
        if not isinstance(value, list):
            raise _error(f"Operator '{op}' on '{field}' needs an array value, got {_json(value)}.")
        items: list[object] = value
    elif isinstance(value, list):
        raise _error(
            f"Operator '{op}' on '{field}' needs a single value, got {_json(value)}; "
            "use IN or NIN to match a list of values."
        )
    else:
        items = [value]
    parse = _PARSERS[kind]
    parsed: list[Any] = []
    for item in items:
        result = parse(item)
        if result is None:
            raise _error(
                f"Value {_json(item)} does not match the {kind} type of field '{field}'; "
                f"{_VALUE_HINTS[kind]}."
            )
        parsed.append(result)
    return parsed


def _parse_string(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _parse_integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER_RE.fullmatch(value):
        return int(value)
    return None


def _parse_float(value: object) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _parse_boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _parse_date(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


_PARSERS: dict[str, Callable[[object], object]] = {
    "string": _parse_string,
    "integer": _parse_integer,
    "float": _parse_float,
    "boolean": _parse_boolean,
    "date": _parse_date,
}


def _string_test(field: str, op: str, values: list[str]) -> _Test:
    if field in _WORD_MATCHED_FIELDS:
        if op in ("=", "IN"):
            words = frozenset(value.lower() for value in values)
            return lambda x: not words.isdisjoint(_body_words(x))
        return _affix_test(op, values[0], _body_text)
    if op in ("=", "IN"):
        return _member_test(frozenset(values), _as_text)
    return _affix_test(op, values[0], _as_text)


def _affix_test(op: str, value: str, as_text: Callable[[object], str | None]) -> _Test:
    """Contains / starts with / ends with, case-insensitively."""
    needle = value.lower()
    if op == "~":
        return lambda x: (t := as_text(x)) is not None and needle in t.lower()
    if op == "^":
        return lambda x: (t := as_text(x)) is not None and t.lower().startswith(needle)
    return lambda x: (t := as_text(x)) is not None and t.lower().endswith(needle)


def _member_test(values: frozenset[object], coerce: Callable[[object], object]) -> _Test:
    return lambda x: (c := coerce(x)) is not None and c in values


def _number_test(op: str, values: list[Any], coerce: Callable[[object], float | None]) -> _Test:
    if op in ("=", "IN"):
        return _member_test(frozenset(values), coerce)
    compare = _COMPARE[op]
    bound = values[0]
    return lambda x: (n := coerce(x)) is not None and compare(n, bound)


def _as_text(value: object) -> str | None:
    """Record values compared as strings; numbers stored by older API versions count too."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _body_text(value: object) -> str | None:
    """The visible text of an HTML body."""
    if not isinstance(value, str):
        return None
    return html.unescape(_TAG_RE.sub(" ", value))


def _body_words(value: object) -> Iterable[str]:
    text = _body_text(value)
    if text is None:
        return ()
    return _WORD_RE.findall(text.lower())


def _as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return float(value)
    return None


def _as_timestamp(value: object) -> float | None:
    """Unix seconds of a record's date; datetime custom attributes may be ISO-8601 strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        return None
    if _INTEGER_RE.fullmatch(value):
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
