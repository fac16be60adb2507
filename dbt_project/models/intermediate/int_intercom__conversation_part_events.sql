{#- One row per conversation: what its loaded parts say happened. Intercom's own statistics are
    preferred in the marts; these fill in when a statistic is missing, and give what the
    statistics do not have (who closed last and whether that was a bot, customer replies).
    A conversation with more than 500 parts has only its 500 most recent loaded.
    Incremental: a conversation is summed up again when one of its parts was loaded again. -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'conversation_id']) }}

with parts as (
    select * from {{ ref('stg_intercom__conversation_parts') }}
    {% if is_incremental() %}
    where (workspace_id, conversation_id) in (
        select workspace_id, conversation_id from {{ ref('stg_intercom__conversation_parts') }}
        where {{ loaded_since_last_build() }}
    )
    {% endif %}
),

events as (
    select
        workspace_id,
        conversation_id,
        count(*) as count_parts_loaded,
        min(created_at) filter (where part_type like '%assign%') as first_assignment_at,
        count(*) filter (where part_type like '%assign%') as count_assignments,
        min(created_at) filter (
            where part_type = 'comment' and author_type = 'admin' and body is not null
        ) as first_admin_reply_at,
        min(created_at) filter (
            where part_type = 'comment' and is_authored_by_contact
        ) as first_contact_reply_at,
        count(*) filter (where part_type = 'comment' and is_authored_by_contact)
            as count_contact_replies,
        min(created_at) filter (where part_type = 'close') as first_close_at,
        max(created_at) filter (where part_type = 'close') as last_close_at,
        -- arg_max picks the author of the latest close part.
        arg_max(author_id, created_at) filter (where part_type = 'close') as last_closed_by_id,
        arg_max(author_type, created_at) filter (where part_type = 'close')
            as last_closed_by_type,
        count(*) filter (where part_type = 'open') as count_reopens,
        max(_dlt_load_id) as _dlt_load_id
    from parts
    group by workspace_id, conversation_id
)

select * from events
