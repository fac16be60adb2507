with source as (
    select * from {{ source('intercom', 'ticket_parts') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'ticket_parts'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'part_id'],
            ['ticket_id', 'varchar'],
            ['part_type', 'varchar', 'optional'],
            ['body', 'varchar'],
            ['author', 'json'],
            ['previous_ticket_state', 'varchar', 'optional'],
            ['ticket_state', 'varchar', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
),

final as (
    select
        workspace_id,
        part_id,
        ticket_id,
        part_type,
        body,
        json_extract_string(author, '$.type') as author_type,
        json_extract_string(author, '$.id') as author_id,
        previous_ticket_state,
        ticket_state,
        created_at,
        updated_at
    from renamed
)

select * from final
{{ deduplicate(['workspace_id', 'part_id'], 'updated_at desc nulls last') }}
