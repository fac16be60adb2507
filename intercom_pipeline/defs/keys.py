"""Asset keys by layer, so no two layers share a name.

Raw Intercom tables are ["intercom", table] (the dbt source's key), staging and intermediate
models ["staging", model], marts and seeds ["analytics", model]: the prefix is the schema.
"""

import dagster as dg


def raw_key(table: str) -> dg.AssetKey:
    """A raw Intercom table, as the dlt source loads it into `intercom_raw`."""
    return dg.AssetKey(["intercom", table])


def mart_key(name: str) -> dg.AssetKey:
    """A dbt mart (or seed) in the `analytics` schema."""
    return dg.AssetKey(["analytics", name])
