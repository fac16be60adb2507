with source as (
    select * from {{ source('intercom', 'tags') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'tags'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'tag_id'],
            ['name', 'varchar', 'tag_name', 'optional'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'tag_id'], '_dlt_load_id desc') }}
