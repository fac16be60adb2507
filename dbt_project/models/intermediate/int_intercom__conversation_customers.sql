{#- One row per conversation: its customer. The author of the first message when a contact wrote
    it, otherwise the first participating contact (by id, for a stable choice). -#}
with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
),

participants as (
    select
        workspace_id,
        conversation_id,
        min(contact_id) as first_participant_id
    from {{ ref('stg_intercom__conversation_contacts') }}
    group by workspace_id, conversation_id
)

select
    conversations.workspace_id,
    conversations.conversation_id,
    case
        when conversations.source_author_type in ('user', 'lead', 'contact')
            then conversations.source_author_id
        else participants.first_participant_id
    end as contact_id
from conversations
left join participants
    on conversations.workspace_id = participants.workspace_id
    and conversations.conversation_id = participants.conversation_id
