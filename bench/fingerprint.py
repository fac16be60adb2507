"""Fingerprint every table of a warehouse, to show that a change kept the same rows.

    python bench/fingerprint.py data/intercom.duckdb > before.json
    ... change the code, rebuild the same sandbox seed ...
    python bench/fingerprint.py data/intercom.duckdb --compare before.json

Each table's fingerprint is its row count and an order-independent hash of its rows, leaving out
the columns that differ on every run by design (dlt's load and row ids, run times). The hash
reads the values by position, not by column name: a table whose columns were only renamed keeps
its hash, and the comparison lists it apart, with the renames, as the same rows (exit status 0
when nothing but names changed).
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

from intercom_pipeline.warehouse.fingerprint import fingerprints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--compare", help="a fingerprint file written earlier")
    args = parser.parse_args()
    with duckdb.connect(args.warehouse, read_only=True) as conn:
        now = fingerprints(conn)
    if not args.compare:
        json.dump(now, sys.stdout, indent=1)
        return 0
    with open(args.compare) as file:
        before = json.load(file)
    differences = renamed = 0
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old == new:
            continue
        if renames := _renames_only(old, new):
            renamed += 1
            pairs = ", ".join(f"{a} -> {b}" for a, b in renames)
            print(f"{name}: same {new['rows']} rows and values, columns renamed: {pairs}")  # type: ignore[index]
            continue
        differences += 1
        print(f"{name}: before {_short(old)}, now {_short(new)}")
    print(
        f"{len(now)} tables, {differences} differ in rows or values, {renamed} only renamed columns"
    )
    return 1 if differences else 0


def _renames_only(
    old: dict[str, object] | None, new: dict[str, object] | None
) -> list[tuple[str, str]]:
    """(old name, new name) of each renamed column, when names are all that changed; else []."""
    if old is None or new is None or (old["rows"], old["hash"]) != (new["rows"], new["hash"]):
        return []
    before, now = list(old["columns"]), list(new["columns"])  # type: ignore[call-overload]
    if len(before) != len(now):
        return []
    return [(a, b) for a, b in zip(before, now, strict=True) if a != b]


def _short(fingerprint: dict[str, object] | None) -> str:
    if fingerprint is None:
        return "absent"
    return f"{fingerprint['rows']} rows, hash {fingerprint['hash']}"


if __name__ == "__main__":
    sys.exit(main())
