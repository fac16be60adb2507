"""The audiences file (AUDIENCES_FILE, YAML): which audiences exist and how each one syncs.

Read and validated once, without touching the warehouse or Intercom, so a mistake (a malformed
property name included) is reported when the definitions load, naming the audience, the key and
the fix. Filter values and mapping names are bound parameters, so any text is accepted. Only
whether a property exists needs the warehouse: the sync reports that.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from intercom_pipeline.activation.audiences.filters import (
    FilterError,
    check_filter,
    check_property,
)
from intercom_pipeline.settings import ConfigurationError, absolute_path

DEFAULT_AUDIENCES_FILE = "audiences.yaml"
KINDS = ("users", "leads", "intercom_segment", "custom")
ACTIONS = ("keep", "mark", "remove")
# Contact properties every audience carries, under these names.
DEFAULT_PROPERTIES = {
    "email": "email",
    "name": "contact_name",
    "role": "role",
    "external_id": "external_id",
    "country": "country",
    "company": "company_name",
    "signed_up_at": "signed_up_at",
    "last_seen_at": "last_seen_at",
}
_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# An Intercom segment the file does not configure: `segment_<its id>` (Intercom ids are hex).
SEGMENT_AUDIENCE_ID = re.compile(r"segment_[0-9a-f]{1,54}")
_KEYS = {
    "id",
    "name",
    "type",
    "segment",
    "source",
    "filter",
    "auto_sync",
    "duplicates",
    "tag",
    "tag_in_intercom",
    "properties",
    "on_deleted",
    "on_unsubscribed",
    "events",
}


@dataclass(frozen=True)
class Audience:
    id: str  # stable: the asset key and the warehouse key; the name may change (custom only)
    name: str
    kind: str
    segment: str | None = None  # intercom_segment: the segment's name or id
    source: str = "users"  # custom: the list it filters (users or leads)
    filter: dict[str, Any] | None = None
    auto_sync: bool = False
    duplicates: str = "update"  # a contact already in the audience: update or skip
    tag: str | None = None
    tag_in_intercom: bool = False
    properties: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROPERTIES))
    on_deleted: str = "mark"
    on_unsubscribed: str = "mark"
    events: dict[str, str] = field(default_factory=dict)  # unsubscribed / removed -> event name


def audiences_file(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    raw = env.get("AUDIENCES_FILE", "").strip() or DEFAULT_AUDIENCES_FILE
    return absolute_path(raw)


def load_audiences(path: Path | None = None) -> list[Audience]:
    """The audiences of the file; Users and Leads when there is no file.

    Raises:
        ConfigurationError: the file or an audience in it is not valid (the message says where).
    """
    path = path or audiences_file()
    lists = [Audience("users", "Users", "users"), Audience("leads", "Leads", "leads")]
    if not path.exists():
        return lists
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from None
    entries = document.get("audiences") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigurationError(f"{path}: expected a list under `audiences:`")
    audiences = [_audience(entry, path, n) for n, entry in enumerate(entries, start=1)]
    # The two lists always exist; the file only configures them (auto-sync, tag, ...).
    configured = {a.kind for a in audiences}
    audiences = [a for a in lists if a.kind not in configured] + audiences
    seen: set[str] = set()
    for audience in audiences:
        if audience.id in seen:
            raise ConfigurationError(f"{path}: two audiences have the id {audience.id!r}")
        seen.add(audience.id)
    return audiences


def _audience(entry: Any, path: Path, n: int) -> Audience:
    """One entry of the file, every key checked in turn, so the first mistake is the one reported.

    Errors start with the file and the audience's position (`audiences.yaml, audience 2`), since
    an entry with a mistake may have no valid id to name it by.
    """
    where = f"{path}, audience {n}"
    _check_keys(entry, where)
    kind = _choice(entry, "type", KINDS, None, where)
    name, default_id = _name(entry, kind, where)
    audience_id = _audience_id(entry, default_id, where)
    events = _events(entry, where)
    properties = _properties(entry, where)
    if kind == "custom":
        _check_filter(entry["filter"], where)
    return Audience(
        id=audience_id,
        name=name.strip(),
        kind=kind,
        segment=str(entry["segment"]).strip() if kind == "intercom_segment" else None,
        source=_choice(entry, "source", ("users", "leads"), "users", where),
        filter=entry.get("filter"),
        auto_sync=bool(entry.get("auto_sync", False)),
        duplicates=_choice(entry, "duplicates", ("update", "skip"), "update", where),
        tag=str(entry["tag"]).strip() if entry.get("tag") else None,
        tag_in_intercom=bool(entry.get("tag_in_intercom", False)),
        properties={**DEFAULT_PROPERTIES, **properties},
        on_deleted=_choice(entry, "on_deleted", ACTIONS, "mark", where),
        on_unsubscribed=_choice(entry, "on_unsubscribed", ACTIONS, "mark", where),
        events={k: str(v) for k, v in events.items()},
    )


def _check_keys(entry: Any, where: str) -> None:
    """An entry is a mapping of known keys: a misspelt key would otherwise be silently ignored."""
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: expected a mapping with at least `type`")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {unknown}; known: {sorted(_KEYS)}")


def _name(entry: dict[str, Any], kind: str, where: str) -> tuple[str, str | None]:
    """The audience's name and the id it gets without `id`; Intercom names lists and segments.

    Users and Leads have a fixed id (their kind); a segment or a custom audience has none, so
    its `id` is required.
    """
    name = entry.get("name")
    if kind in ("users", "leads"):
        if name is not None:
            raise ConfigurationError(
                f"{where}: the name of a list comes from Intercom; remove `name`"
            )
        return kind.capitalize(), kind
    if kind == "intercom_segment":
        if name is not None:
            raise ConfigurationError(
                f"{where}: the name of an Intercom segment comes from Intercom; remove `name`"
            )
        segment = entry.get("segment")
        if not isinstance(segment, str | int) or not str(segment).strip():
            raise ConfigurationError(f"{where}: `segment` must be the segment's name or id")
        return str(segment), None
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{where}: a custom audience needs a `name`")
    if not isinstance(entry.get("filter"), dict):
        raise ConfigurationError(f"{where}: a custom audience needs a `filter`")
    return name, None


def _audience_id(entry: dict[str, Any], default_id: str | None, where: str) -> str:
    """The id, which names the Dagster asset and the warehouse rows, so it is a plain key."""
    audience_id = str(entry.get("id") or default_id or "")
    if not _ID.match(audience_id):
        raise ConfigurationError(
            f"{where}: `id` must be lower-case letters, digits and underscores, starting with a "
            "letter (it names the Dagster asset and never changes; the name may)"
        )
    return audience_id


def _events(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """The Intercom events to send, by the two moments the sync knows (unsubscribed, removed)."""
    events = entry.get("events") or {}
    if not isinstance(events, dict) or set(events) - {"unsubscribed", "removed"}:
        raise ConfigurationError(f"{where}: `events` maps unsubscribed and/or removed to names")
    return events


def _properties(entry: dict[str, Any], where: str) -> dict[str, str]:
    """The extra properties carried, under the user's names, each a well-formed property.

    The names (keys) are free text: they reach the SQL only as bound parameters, so `Plan
    "Select"` is a fine name. The properties (values) become SQL names, so each is checked to
    be a column name or `custom_attributes.<name>`; whether it exists needs the warehouse.
    """
    properties = entry.get("properties") or {}
    if not isinstance(properties, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in properties.items()
    ):
        raise ConfigurationError(f"{where}: `properties` maps your names to contact properties")
    for label, prop in properties.items():
        check_property(prop, f"{where}, properties[{label!r}]")
    return properties


def _check_filter(node: dict[str, Any], where: str) -> None:
    """A custom audience's filter, checked without the warehouse; its errors also name the file."""
    try:
        check_filter(node)
    except FilterError as exc:
        raise FilterError(f"{where}: {exc}") from None


def _choice(
    entry: dict[str, Any], key: str, choices: tuple[str, ...], default: str | None, where: str
) -> str:
    """The key's value, one of a fixed list: a typo fails with the choices rather than a default."""
    value = entry.get(key, default)
    if value not in choices:
        raise ConfigurationError(
            f"{where}: `{key}` is {value!r}; choose one of {', '.join(choices)}"
        )
    return str(value)
