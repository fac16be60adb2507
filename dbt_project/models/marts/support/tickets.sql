{#- One row per ticket: its type, category, state, assignees and the conversation it came from. -#}
with tickets as (
    select * from {{ ref('stg_intercom__tickets') }}
),

admins as (
    select * from {{ ref('stg_intercom__admins') }}
),

teams as (
    select * from {{ ref('stg_intercom__teams') }}
),

linked_conversations as (
    -- A ticket lists its conversation, and the conversation lists its ticket; either is enough.
    select workspace_id, linked_ticket_id as ticket_id, min(conversation_id) as conversation_id
    from {{ ref('stg_intercom__conversations') }}
    where linked_ticket_id is not null
    group by all
)

select
    tickets.workspace_id,
    tickets.ticket_id,
    tickets.ticket_number,
    tickets.title,
    tickets.ticket_type_id,
    tickets.ticket_type_name,
    tickets.ticket_category,
    tickets.ticket_state,
    tickets.ticket_state_label,
    tickets.is_open,
    tickets.is_shared,
    tickets.admin_assignee_id,
    admins.admin_name as admin_assignee_name,
    tickets.team_assignee_id,
    teams.team_name as team_assignee_name,
    tickets.contact_id,
    coalesce(tickets.linked_conversation_id, linked_conversations.conversation_id)
        as linked_conversation_id,
    tickets.ticket_attributes,
    tickets.created_at,
    tickets.updated_at
from tickets
left join admins
    on tickets.workspace_id = admins.workspace_id
    and tickets.admin_assignee_id = admins.admin_id
left join teams
    on tickets.workspace_id = teams.workspace_id
    and tickets.team_assignee_id = teams.team_id
left join linked_conversations
    on tickets.workspace_id = linked_conversations.workspace_id
    and tickets.ticket_id = linked_conversations.ticket_id
