with source as (
    select * from {{ source('intercom', 'ticket_states') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'ticket_states'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'ticket_state_id'],
            ['category', 'varchar', 'ticket_state_category'],
            ['internal_label', 'varchar'],
            ['external_label', 'varchar'],
            ['archived', 'boolean', 'is_archived', 'optional'],
            ['ticket_type_ids', 'json'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'ticket_state_id'], '_dlt_load_id desc') }}
