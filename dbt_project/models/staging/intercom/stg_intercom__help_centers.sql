with source as (
    select * from {{ source('intercom', 'help_centers') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'help_centers'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'help_center_id'],
            ['display_name', 'varchar', 'optional'],
            ['identifier', 'varchar', 'optional'],
            ['url', 'varchar', 'optional'],
            ['website_turned_on', 'boolean', 'is_website_turned_on', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'help_center_id'], 'updated_at desc nulls last') }}
