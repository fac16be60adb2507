-- Run once by the postgres image, on the first start of an empty data volume, as the
-- superuser that POSTGRES_USER names (it owns both databases). Later starts skip this folder:
-- on an existing volume, create a missing database by hand.

-- Dagster's instance: runs, event logs, schedule and sensor state (deploy/dagster.yaml,
-- DAGSTER_PG_DB). dagster-postgres creates its tables on first use.
CREATE DATABASE dagster;

-- The DuckLake catalog of the warehouse (DUCKLAKE_CATALOG dbname=intercom_lake): the tables,
-- their snapshots and the list of Parquet files under DUCKLAKE_DATA_PATH. DuckLake creates its
-- tables when the warehouse first attaches it.
CREATE DATABASE intercom_lake;
