{#- One row per change of the setup, manual sync or retry; empty until the operations_history
    asset first runs. -#}
with source as (
    select * from {{ from_optional_source('ops_raw', 'setup_events') }}
),

typed as (
    select
        {{ typed_columns(source('ops_raw', 'setup_events'), [
            ['event_id', 'varchar'],
            ['occurred_at', 'timestamp'],
            ['event_type', 'varchar'],
            ['subject', 'varchar'],
            ['detail', 'varchar'],
            ['run_id', 'varchar'],
        ]) }}
    from source
),

final as (
    select
        event_id,
        occurred_at,
        event_type,
        subject,
        detail,
        run_id
    from typed
)

select * from final
