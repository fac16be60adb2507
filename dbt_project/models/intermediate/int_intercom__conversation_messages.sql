{#- One row per customer-visible message of a conversation, in thread order: the first message
    (the conversation's source, position 0) and every comment part. Notes, assignments and state
    changes are not messages.
    Incremental: a conversation's messages are replaced whole when it or one of its parts was
    loaded again (the positions follow the whole thread). -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'conversation_id']) }}

with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
),

parts as (
    select * from {{ ref('stg_intercom__conversation_parts') }}
),

{% if is_incremental() %}
changed as (
    select workspace_id, conversation_id from conversations where {{ loaded_since_last_build() }}
    union
    select workspace_id, conversation_id from parts where {{ loaded_since_last_build() }}
),
{% endif %}

messages as (
    select
        workspace_id,
        conversation_id,
        'source' as message_id,
        created_at as sent_at,
        source_author_type as author_type,
        source_author_id as author_id,
        source_author_name as author_name,
        coalesce(source_author_type in ('user', 'lead', 'contact'), false)
            as is_authored_by_contact,
        source_body as body,
        coalesce(source_attachments, '[]'::json) as attachments,
        0 as source_first,
        _dlt_load_id
    from conversations
    where source_body is not null

    union all

    select
        workspace_id,
        conversation_id,
        part_id as message_id,
        created_at as sent_at,
        author_type,
        author_id,
        author_name,
        is_authored_by_contact,
        body,
        attachments,
        1 as source_first,
        _dlt_load_id
    from parts
    where part_type = 'comment'
)

select
    * exclude (source_first),
    row_number() over (
        partition by workspace_id, conversation_id
        order by sent_at, source_first, try_cast(message_id as bigint), message_id
    ) as position
from messages
{% if is_incremental() %}
where (workspace_id, conversation_id) in (select workspace_id, conversation_id from changed)
{% endif %}
