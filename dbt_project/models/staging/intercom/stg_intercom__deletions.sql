with source as (
    select * from {{ source('intercom', 'deletions') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'deletions'), [
            ['workspace_id', 'varchar'],
            ['object_type', 'varchar'],
            ['id', 'varchar', 'object_id'],
            ['deleted_at', 'utc', 'optional'],
            ['reason', 'varchar', 'optional'],
            ['metrics_retained', 'boolean'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'object_type', 'object_id'], 'deleted_at') }}
