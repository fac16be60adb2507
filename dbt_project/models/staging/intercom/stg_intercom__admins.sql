with source as (
    select * from {{ source('intercom', 'admins') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'admins'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'admin_id'],
            ['name', 'varchar', 'admin_name', 'optional'],
            ['email', 'varchar', 'optional'],
            ['job_title', 'varchar', 'optional'],
            ['away_mode_enabled', 'boolean', 'is_away', 'optional'],
            ['has_inbox_seat', 'boolean', 'optional'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'admin_id'], '_dlt_load_id desc') }}
