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
            ['full_name', 'varchar', 'optional'],
            ['label', 'varchar', 'optional'],
            ['description', 'varchar', 'optional'],
            ['data_type', 'varchar', 'optional'],
            ['custom', 'boolean', 'is_custom', 'optional'],
            ['archived', 'boolean', 'is_archived', 'optional'],
            ['api_writable', 'boolean', 'is_api_writable', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'model', 'attribute_name'], 'updated_at desc nulls last') }}
