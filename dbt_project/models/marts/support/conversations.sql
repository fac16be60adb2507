{#- One row per conversation. Timestamps and counts come from Intercom's conversation
    statistics when present, else from the loaded parts. Durations are wall-clock minutes from
    the conversation's creation (Intercom's API does not expose office hours). -#}
with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
),

part_events as (
    select * from {{ ref('int_intercom__conversation_part_events') }}
),

customers as (
    select * from {{ ref('int_intercom__conversation_customers') }}
),

memberships as (
    select * from {{ ref('int_intercom__contact_memberships') }}
),

bots as (
    select * from {{ ref('int_intercom__bots') }}
),

pauses as (
    select * from {{ ref('int_intercom__conversation_pauses') }}
),

admins as (
    select * from {{ ref('stg_intercom__admins') }}
),

teams as (
    select * from {{ ref('stg_intercom__teams') }}
),

joined as (
    select
        conversations.workspace_id,
        conversations.conversation_id,
        conversations.title,
        conversations.state,
        conversations.is_open,
        conversations.is_read,
        conversations.priority,
        conversations.first_channel as channel,
        conversations.source_type,
        conversations.source_delivered_as,
        conversations.admin_assignee_id,
        coalesce(admins.admin_name, assignee_bots.bot_name) as admin_assignee_name,
        assignee_bots.bot_id is not null as is_assignee_bot,
        conversations.team_assignee_id,
        teams.team_name as team_assignee_name,
        customers.contact_id,
        memberships.primary_company_id as company_id,
        memberships.primary_company_name as company_name,
        conversations.tag_names,
        conversations.rating,
        conversations.rating_remark,
        conversations.rated_at,
        conversations.sla_name,
        conversations.sla_status,
        conversations.linked_ticket_id,
        conversations.custom_attributes,
        conversations.is_parts_truncated_by_api,
        conversations.has_ai_agent_participated,
        conversations.is_deleted,
        conversations.deleted_at,
        conversations.is_deleted_metrics_retained,
        coalesce(pauses.count_pauses, 0) as count_pauses,
        round(coalesce(pauses.paused_seconds, 0) / 60.0, 2) as paused_minutes,
        coalesce(pauses.is_paused, false) as is_paused,
        conversations.created_at,
        conversations.updated_at,
        conversations.waiting_since,
        conversations.snoozed_until,
        coalesce(conversations.stat_first_assignment_at, part_events.first_assignment_at)
            as first_assignment_at,
        coalesce(conversations.stat_first_admin_reply_at, part_events.first_admin_reply_at)
            as first_admin_response_at,
        coalesce(conversations.stat_first_contact_reply_at, part_events.first_contact_reply_at)
            as first_contact_reply_at,
        coalesce(conversations.stat_first_close_at, part_events.first_close_at) as first_close_at,
        coalesce(conversations.stat_last_close_at, part_events.last_close_at) as last_close_at,
        coalesce(conversations.stat_last_closed_by_id, part_events.last_closed_by_id)
            as last_closed_by_id,
        coalesce(conversations.stat_count_reopens, part_events.count_reopens, 0) as count_reopens,
        coalesce(conversations.stat_count_assignments, part_events.count_assignments, 0)
            as count_assignments,
        coalesce(
            conversations.count_parts_total,
            conversations.stat_count_parts,
            part_events.count_parts_loaded,
            0
        ) as count_parts,
        coalesce(part_events.count_parts_loaded, 0) as count_parts_loaded,
        coalesce(part_events.count_contact_replies, 0) as count_contact_replies,
        conversations.stat_median_time_to_reply_seconds
    from conversations
    left join part_events
        on conversations.workspace_id = part_events.workspace_id
        and conversations.conversation_id = part_events.conversation_id
    left join customers
        on conversations.workspace_id = customers.workspace_id
        and conversations.conversation_id = customers.conversation_id
    left join memberships
        on customers.workspace_id = memberships.workspace_id
        and customers.contact_id = memberships.contact_id
    left join admins
        on conversations.workspace_id = admins.workspace_id
        and conversations.admin_assignee_id = admins.admin_id
    left join bots as assignee_bots
        on conversations.workspace_id = assignee_bots.workspace_id
        and conversations.admin_assignee_id = assignee_bots.bot_id
    left join teams
        on conversations.workspace_id = teams.workspace_id
        and conversations.team_assignee_id = teams.team_id
    left join pauses
        on conversations.workspace_id = pauses.workspace_id
        and conversations.conversation_id = pauses.conversation_id
),

final as (
    select
        joined.* exclude (stat_median_time_to_reply_seconds),
        last_closed_by_id in (
            select bot_id from bots where bots.workspace_id = joined.workspace_id
        ) as is_last_closed_by_bot,
        {{ satisfaction_category('rating') }} as satisfaction_category,
        linked_ticket_id is not null as has_ticket,
        count_contact_replies > 0 or first_contact_reply_at is not null as has_customer_replied,
        {{ minutes_between('created_at', 'first_assignment_at') }}
            as time_to_first_assignment_minutes,
        {{ minutes_between('created_at', 'first_admin_response_at') }}
            as time_to_first_response_minutes,
        {{ minutes_between('created_at', 'first_close_at') }} as time_to_first_close_minutes,
        {{ minutes_between('created_at', 'last_close_at') }} as time_to_last_close_minutes,
        round(stat_median_time_to_reply_seconds / 60.0, 2) as median_response_time_minutes,
        case
            when state = 'closed'
                then {{ days_between('created_at', 'coalesce(last_close_at, updated_at)') }}
            else {{ days_between('created_at', as_of()) }}
        end as conversation_age_days
    from joined
)

select * from final
