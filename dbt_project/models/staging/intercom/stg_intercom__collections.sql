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
            ['name', 'varchar', 'collection_name'],
            ['description', 'varchar'],
            ['url', 'varchar'],
            ['order', 'bigint', 'sort_order'],
            ['default_locale', 'varchar'],
            ['created_at', 'utc'],
            ['updated_at', 'utc'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'collection_id'], 'updated_at desc nulls last') }}
