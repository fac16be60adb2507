"""The warehouse: settings, the writer lock, connections, dlt's destination and dbt's profile."""

from intercom_pipeline.warehouse.database import NotADatabase, Warehouse
from intercom_pipeline.warehouse.lock import WarehouseBusy, WarehouseError
from intercom_pipeline.warehouse.rows import first_row, write_rows
from intercom_pipeline.warehouse.settings import WarehouseSettings, warehouse_settings

__all__ = [
    "NotADatabase",
    "Warehouse",
    "WarehouseBusy",
    "WarehouseError",
    "WarehouseSettings",
    "first_row",
    "warehouse_settings",
    "write_rows",
]
