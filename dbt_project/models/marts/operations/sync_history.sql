{#- One row per raw table per sync run, as the Dagster instance recorded the run; empty until
    the operations_history asset first runs. -#}
with source as (
    select * from {{ from_optional_source('ops_raw', 'sync_runs') }}
),

typed as (
    select
        {{ typed_columns(source('ops_raw', 'sync_runs'), [
            ['run_id', 'varchar'],
            ['table_name', 'varchar'],
            ['job_name', 'varchar'],
            ['run_kind', 'varchar'],
            ['schedule_name', 'varchar'],
            ['parent_run_id', 'varchar'],
            ['status', 'varchar'],
            ['started_at', 'timestamp'],
            ['ended_at', 'timestamp'],
            ['rows_loaded', 'bigint'],
            ['run_api_calls', 'bigint'],
            ['run_rate_limited_429', 'bigint'],
            ['failure_reason', 'varchar'],
        ]) }}
    from source
),

final as (
    select
        ---------- ids
        run_id,
        table_name,
        job_name,
        run_kind,
        schedule_name,
        parent_run_id,
        ---------- outcome
        status,
        failure_reason,
        ---------- timestamps
        started_at,
        ended_at,
        ---------- numerics
        -- the run's duration: every table of a run loads in the one step
        round(datediff('millisecond', started_at, ended_at) / 1000.0, 3) as run_duration_seconds,
        rows_loaded,
        run_api_calls,
        run_rate_limited_429
    from typed
)

select * from final
