with source as (
    select * from {{ source('intercom', 'tickets') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'tickets'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'ticket_id'],
            ['ticket_id', 'varchar', 'ticket_number'],
            ['category', 'varchar', 'ticket_category', 'optional'],
            ['ticket_type', 'json'],
            ['ticket_state', 'json'],
            ['ticket_attributes', 'json'],
            ['linked_objects', 'json'],
            ['contacts', 'json'],
            ['previous_ticket_state_id', 'varchar'],
            ['admin_assignee_id', 'varchar'],
            ['team_assignee_id', 'varchar'],
            ['open', 'boolean', 'is_open', 'optional'],
            ['is_shared', 'boolean', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
),

final as (
    select
        workspace_id,
        ticket_id,
        ticket_number,
        json_extract_string(ticket_attributes, '$._default_title_') as title,
        json_extract_string(ticket_type, '$.id') as ticket_type_id,
        json_extract_string(ticket_type, '$.name') as ticket_type_name,
        ticket_category,
        json_extract_string(ticket_state, '$.id') as ticket_state_id,
        json_extract_string(ticket_state, '$.category') as ticket_state,
        json_extract_string(ticket_state, '$.internal_label') as ticket_state_label,
        previous_ticket_state_id,
        nullif(nullif(admin_assignee_id, '0'), '') as admin_assignee_id,
        nullif(nullif(team_assignee_id, '0'), '') as team_assignee_id,
        json_extract_string(contacts, '$.contacts[0].id') as contact_id,
        json_extract_string(linked_objects, '$.data[*].id')[
            list_position(json_extract_string(linked_objects, '$.data[*].type'), 'conversation')
        ] as linked_conversation_id,
        ticket_attributes,
        is_open,
        coalesce(is_shared, false) as is_shared,
        created_at,
        updated_at
    from renamed
)

select * from final
{{ deduplicate(['workspace_id', 'ticket_id'], 'updated_at desc nulls last') }}
