with source as (
    select * from {{ source('intercom', 'admin_activity_logs') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'admin_activity_logs'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'activity_log_id'],
            ['activity_type', 'varchar'],
            ['activity_description', 'varchar'],
            ['performed_by_id', 'varchar', 'performed_by_admin_id'],
            ['performed_by_email', 'varchar'],
            ['performed_by_ip', 'varchar'],
            ['metadata', 'json'],
            ['created_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'activity_log_id'], 'created_at desc nulls last') }}
