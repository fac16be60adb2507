with source as (
    select * from {{ source('intercom', 'conversation_contacts') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'conversation_contacts'), [
            ['workspace_id', 'varchar'],
            ['conversation_id', 'varchar'],
            ['contact_id', 'varchar'],
            ['external_id', 'varchar'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'conversation_id', 'contact_id'], 'external_id') }}
