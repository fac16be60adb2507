{#- Incremental: only the parts loaded since the last build are staged (again); parts are never
    removed from the raw table, so a stored part stays until a load writes it anew. -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'part_id']) }}

with source as (
    select * from {{ source('intercom', 'conversation_parts') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'conversation_parts'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'part_id'],
            ['conversation_id', 'varchar'],
            ['part_type', 'varchar', 'optional'],
            ['body', 'varchar'],
            ['author', 'json'],
            ['assigned_to', 'json'],
            ['attachments', 'json'],
            ['redacted', 'boolean', 'is_redacted', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
),

final as (
    select
        workspace_id,
        part_id,
        conversation_id,
        part_type,
        body,
        json_extract_string(author, '$.type') as author_type,
        json_extract_string(author, '$.id') as author_id,
        json_extract_string(author, '$.name') as author_name,
        json_extract_string(author, '$.email') as author_email,
        -- A contact wrote it: Intercom calls contacts "user" or "lead" (older parts: "contact").
        coalesce(json_extract_string(author, '$.type') in ('user', 'lead', 'contact'), false)
            as is_authored_by_contact,
        -- The AI agent (Fin) wrote it; and its body is an answer the AI agent generated.
        coalesce(try_cast(json_extract_string(author, '$.from_ai_agent') as boolean), false)
            as is_from_ai_agent,
        coalesce(try_cast(json_extract_string(author, '$.is_ai_answer') as boolean), false)
            as is_ai_answer,
        json_extract_string(assigned_to, '$.type') as assigned_to_type,
        json_extract_string(assigned_to, '$.id') as assigned_to_id,
        coalesce(attachments, '[]'::json) as attachments,
        coalesce(is_redacted, false) as is_redacted,
        created_at,
        updated_at,
        _dlt_load_id
    from renamed
    {% if is_incremental() %}
    where {{ loaded_since_last_build() }}
    {% endif %}
)

select * from final
{{ deduplicate(['workspace_id', 'part_id'], 'updated_at desc nulls last') }}
