{#- Intercom gives a content source no id: `content_source_id` is "<conversation id>:<position>",
    its place in the conversation's ai_agent.content_sources (replaced whole whenever the
    conversation is read). -#}
with source as (
    select * from {{ source('intercom', 'conversation_content_sources') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'conversation_content_sources'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'content_source_id'],
            ['conversation_id', 'varchar'],
            ['position', 'bigint'],
            ['content_type', 'varchar'],
            ['title', 'varchar'],
            ['url', 'varchar'],
            ['locale', 'varchar'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'content_source_id'], 'position') }}
