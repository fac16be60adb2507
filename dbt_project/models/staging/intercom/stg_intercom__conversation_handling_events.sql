{#- Intercom gives a handling event no id: `handling_event_id` is "<conversation id>:<position>",
    the event's place in its conversation's list (replaced whole whenever the conversation is read). -#}
with source as (
    select * from {{ source('intercom', 'conversation_handling_events') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'conversation_handling_events'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'handling_event_id'],
            ['conversation_id', 'varchar'],
            ['type', 'varchar', 'event_type'],
            ['occurred_at', 'utc', 'optional'],
            ['teammate_id', 'varchar', 'admin_id'],
            ['reason', 'varchar'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'handling_event_id'], 'occurred_at desc nulls last') }}
