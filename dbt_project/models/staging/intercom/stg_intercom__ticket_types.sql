with source as (
    select * from {{ source('intercom', 'ticket_types') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'ticket_types'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'ticket_type_id'],
            ['name', 'varchar', 'ticket_type_name'],
            ['category', 'varchar', 'ticket_type_category', 'optional'],
            ['description', 'varchar'],
            ['icon', 'varchar', 'optional'],
            ['archived', 'boolean', 'is_archived', 'optional'],
            ['is_internal', 'boolean', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'ticket_type_id'], 'updated_at desc nulls last') }}
