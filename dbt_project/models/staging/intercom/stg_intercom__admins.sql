with source as (
    select * from {{ source('intercom', 'admins') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'admins'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'admin_id'],
            ['name', 'varchar', 'admin_name'],
            ['email', 'varchar'],
            ['job_title', 'varchar'],
            ['away_mode_enabled', 'boolean', 'is_away'],
            ['has_inbox_seat', 'boolean'],
            ['_dlt_load_id', 'varchar'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'admin_id'], '_dlt_load_id desc') }}
