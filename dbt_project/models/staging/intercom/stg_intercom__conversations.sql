{#- Intercom sends an unassigned assignee as null or 0; both become null here. Statistics are
    unix seconds inside a JSON object; they become UTC timestamps and seconds.
    Incremental: a conversation is staged again when a load wrote it or its deletion mark. -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'conversation_id']) }}

with source as (
    select * from {{ source('intercom', 'conversations') }}
),

deletions as (
    select * from {{ ref('stg_intercom__deletions') }} where object_type = 'conversation'
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'conversations'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'conversation_id'],
            ['title', 'varchar'],
            ['state', 'varchar', 'optional'],
            ['open', 'boolean', 'is_open', 'optional'],
            ['read', 'boolean', 'is_read', 'optional'],
            ['priority', 'varchar', 'optional'],
            ['admin_assignee_id', 'varchar'],
            ['team_assignee_id', 'varchar'],
            ['source', 'json'],
            ['channel', 'json', 'optional'],
            ['statistics', 'json'],
            ['conversation_rating', 'json'],
            ['sla_applied', 'json'],
            ['linked_objects', 'json', 'optional'],
            ['tags', 'json'],
            ['custom_attributes', 'json'],
            ['count_parts_total', 'bigint'],
            ['parts_truncated_by_api', 'boolean'],
            ['ai_agent_participated', 'boolean', 'optional'],
            ['ai_agent_source_type', 'varchar'],
            ['ai_agent_source_title', 'varchar'],
            ['ai_agent_last_answer_type', 'varchar'],
            ['ai_agent_resolution_state', 'varchar'],
            ['ai_agent_rating', 'bigint'],
            ['ai_agent_rating_remark', 'varchar'],
            ['ai_agent_rated_at', 'utc'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
            ['waiting_since', 'utc', 'optional'],
            ['snoozed_until', 'utc', 'optional'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
),

final as (
    select
        renamed.workspace_id,
        conversation_id,
        title,
        state,
        is_open,
        is_read,
        priority,
        nullif(nullif(admin_assignee_id, '0'), '') as admin_assignee_id,
        nullif(nullif(team_assignee_id, '0'), '') as team_assignee_id,

        ---------- the first message
        json_extract_string(source, '$.type') as source_type,
        json_extract_string(source, '$.delivered_as') as source_delivered_as,
        json_extract_string(source, '$.subject') as source_subject,
        json_extract_string(source, '$.body') as source_body,
        json_extract_string(source, '$.url') as source_url,
        json_extract_string(source, '$.author.type') as source_author_type,
        json_extract_string(source, '$.author.id') as source_author_id,
        json_extract_string(source, '$.author.name') as source_author_name,
        json_extract(source, '$.attachments') as source_attachments,
        -- Where the conversation began, even if it moved later (channel.initial, else the first
        -- message's type). The Messenger ("messenger", or "conversation" as a type) is chat.
        case
            when coalesce(json_extract_string(channel, '$.initial'), json_extract_string(source, '$.type'))
                in ('messenger', 'conversation') then 'chat'
            else coalesce(json_extract_string(channel, '$.initial'), json_extract_string(source, '$.type'))
        end as first_channel,

        ---------- rating and SLA
        try_cast(json_extract_string(conversation_rating, '$.rating') as integer) as rating,
        json_extract_string(conversation_rating, '$.remark') as rating_remark,
        {{ unix_to_utc("json_extract_string(conversation_rating, '$.created_at')") }} as rated_at,
        json_extract_string(conversation_rating, '$.contact.id') as rating_contact_id,
        json_extract_string(conversation_rating, '$.teammate.id') as rating_admin_id,
        json_extract_string(sla_applied, '$.sla_name') as sla_name,
        json_extract_string(sla_applied, '$.sla_status') as sla_status,

        ---------- Intercom's statistics (seconds and unix timestamps in the API)
        {{ unix_to_utc("json_extract_string(statistics, '$.first_assignment_at')") }} as stat_first_assignment_at,
        {{ unix_to_utc("json_extract_string(statistics, '$.first_admin_reply_at')") }} as stat_first_admin_reply_at,
        {{ unix_to_utc("json_extract_string(statistics, '$.first_contact_reply_at')") }} as stat_first_contact_reply_at,
        {{ unix_to_utc("json_extract_string(statistics, '$.first_close_at')") }} as stat_first_close_at,
        {{ unix_to_utc("json_extract_string(statistics, '$.last_close_at')") }} as stat_last_close_at,
        json_extract_string(statistics, '$.last_closed_by_id') as stat_last_closed_by_id,
        try_cast(json_extract_string(statistics, '$.median_time_to_reply') as bigint) as stat_median_time_to_reply_seconds,
        try_cast(json_extract_string(statistics, '$.count_reopens') as bigint) as stat_count_reopens,
        try_cast(json_extract_string(statistics, '$.count_assignments') as bigint) as stat_count_assignments,
        try_cast(json_extract_string(statistics, '$.count_conversation_parts') as bigint) as stat_count_parts,

        ---------- links
        json_extract_string(linked_objects, '$.data[*].id')[
            list_position(json_extract_string(linked_objects, '$.data[*].type'), 'ticket')
        ] as linked_ticket_id,
        {{ json_names('tags', '$.tags[*].name') }} as tag_names,
        custom_attributes,
        count_parts_total,
        coalesce(parts_truncated_by_api, false) as is_parts_truncated_by_api,
        coalesce(ai_agent_participated, false) as has_ai_agent_participated,
        ai_agent_source_type,
        ai_agent_source_title,
        ai_agent_last_answer_type,
        ai_agent_resolution_state,
        cast(ai_agent_rating as integer) as ai_agent_rating,
        ai_agent_rating_remark,
        ai_agent_rated_at,

        ---------- timestamps
        created_at,
        updated_at,
        waiting_since,
        snoozed_until,
        deletions.deleted_at,
        deletions.deleted_at is not null as is_deleted,
        deletions.metrics_retained as is_deleted_metrics_retained,
        greatest(renamed._dlt_load_id, deletions._dlt_load_id) as _dlt_load_id
    from renamed
    left join deletions
        on renamed.workspace_id = deletions.workspace_id
        and renamed.conversation_id = deletions.object_id
)

select * from final
{% if is_incremental() %}
where {{ loaded_since_last_build() }}
{% endif %}
{{ deduplicate(['workspace_id', 'conversation_id'], 'updated_at desc nulls last') }}
