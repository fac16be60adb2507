"""The warehouse (a DuckDB file or a DuckLake): settings, connections, dlt's destination, dbt's profile."""

from intercom_pipeline.warehouse.database import NotADatabase, Warehouse
from intercom_pipeline.warehouse.ducklake import Lake, open_warehouse
from intercom_pipeline.warehouse.lock import WarehouseBusy, WarehouseError
from intercom_pipeline.warehouse.rows import first_row, write_rows
from intercom_pipeline.warehouse.settings import WarehouseSettings, warehouse_settings

__all__ = [
    "Lake",
    "NotADatabase",
    "Warehouse",
    "WarehouseBusy",
    "WarehouseError",
    "WarehouseSettings",
    "first_row",
    "open_warehouse",
    "warehouse_settings",
    "write_rows",
]
