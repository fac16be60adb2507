{#- One row per ticket: its type, category, state, assignees and the conversation it came from.
    Types and states are named from their own tables (ticket_types, ticket_states), falling back
    to the names the ticket carries when a type or state is not (yet) loaded. -#}
with tickets as (
    select * from {{ ref('stg_intercom__tickets') }}
),

admins as (
    select * from {{ ref('stg_intercom__admins') }}
),

teams as (
    select * from {{ ref('stg_intercom__teams') }}
),

ticket_types as (
    select * from {{ ref('stg_intercom__ticket_types') }}
),

ticket_states as (
    select * from {{ ref('stg_intercom__ticket_states') }}
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
    coalesce(ticket_types.ticket_type_name, tickets.ticket_type_name) as ticket_type_name,
    ticket_types.description as ticket_type_description,
    tickets.ticket_category,
    tickets.ticket_state_id,
    tickets.ticket_state,
    coalesce(states.internal_label, tickets.ticket_state_label) as ticket_state_label,
    states.external_label as ticket_state_external_label,
    tickets.previous_ticket_state_id,
    previous_states.ticket_state_category as previous_ticket_state,
    previous_states.internal_label as previous_ticket_state_label,
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
left join ticket_types
    on tickets.workspace_id = ticket_types.workspace_id
    and tickets.ticket_type_id = ticket_types.ticket_type_id
left join ticket_states as states
    on tickets.workspace_id = states.workspace_id
    and tickets.ticket_state_id = states.ticket_state_id
left join ticket_states as previous_states
    on tickets.workspace_id = previous_states.workspace_id
    and tickets.previous_ticket_state_id = previous_states.ticket_state_id
left join admins
    on tickets.workspace_id = admins.workspace_id
    and tickets.admin_assignee_id = admins.admin_id
left join teams
    on tickets.workspace_id = teams.workspace_id
    and tickets.team_assignee_id = teams.team_id
left join linked_conversations
    on tickets.workspace_id = linked_conversations.workspace_id
    and tickets.ticket_id = linked_conversations.ticket_id
