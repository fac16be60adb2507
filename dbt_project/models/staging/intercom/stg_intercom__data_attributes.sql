with source as (
    select * from {{ source('intercom', 'data_attributes') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'data_attributes'), [
            ['workspace_id', 'varchar'],
            ['model', 'varchar'],
            ['name', 'varchar', 'attribute_name'],
            ['id', 'bigint', 'data_attribute_id'],
            ['full_name', 'varchar'],
            ['label', 'varchar'],
            ['description', 'varchar'],
            ['data_type', 'varchar'],
            ['custom', 'boolean', 'is_custom'],
            ['archived', 'boolean', 'is_archived'],
            ['api_writable', 'boolean', 'is_api_writable'],
            ['created_at', 'utc'],
            ['updated_at', 'utc'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'model', 'attribute_name'], 'updated_at desc nulls last') }}
