with source as (
    select * from {{ source('intercom', 'collections') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'collections'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'collection_id'],
            ['parent_id', 'varchar', 'parent_collection_id'],
            ['help_center_id', 'varchar'],
            ['name', 'varchar', 'collection_name', 'optional'],
            ['description', 'varchar', 'optional'],
            ['url', 'varchar', 'optional'],
            ['order', 'bigint', 'sort_order', 'optional'],
            ['default_locale', 'varchar', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'collection_id'], 'updated_at desc nulls last') }}
