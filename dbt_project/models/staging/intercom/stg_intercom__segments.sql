with source as (
    select * from {{ source('intercom', 'segments') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'segments'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'segment_id'],
            ['name', 'varchar', 'segment_name', 'optional'],
            ['person_type', 'varchar', 'optional'],
            ['count', 'bigint', 'contact_count'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'segment_id'], 'updated_at desc nulls last') }}
