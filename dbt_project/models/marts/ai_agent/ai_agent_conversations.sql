{#- One row per conversation the AI agent (Fin) took part in: what Intercom says of its part
    (ai_agent), and what the loaded parts show of the hand-over to a teammate. A conversation
    with more than 500 parts has only its 500 most recent loaded, so its AI agent's parts may be
    missing (then the part-based columns are null). -#}
with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
    where has_ai_agent_participated
),

parts as (
    select * from {{ ref('stg_intercom__conversation_parts') }}
),

content_sources as (
    select * from {{ ref('stg_intercom__conversation_content_sources') }}
),

ai_parts as (
    select
        workspace_id,
        conversation_id,
        min(created_at) filter (where is_from_ai_agent and part_type = 'comment')
            as first_ai_message_at,
        min(created_at) filter (where is_ai_answer) as first_ai_generated_answer_at
    from parts
    where is_from_ai_agent
    group by workspace_id, conversation_id
),

answered as (
    select
        conversations.workspace_id,
        conversations.conversation_id,
        coalesce(ai_parts.first_ai_generated_answer_at, ai_parts.first_ai_message_at)
            as first_ai_answer_at
    from conversations
    left join ai_parts
        on conversations.workspace_id = ai_parts.workspace_id
        and conversations.conversation_id = ai_parts.conversation_id
),

teammate_responses as (
    select
        answered.workspace_id,
        answered.conversation_id,
        min(parts.created_at) as first_teammate_response_at
    from answered
    inner join parts
        on answered.workspace_id = parts.workspace_id
        and answered.conversation_id = parts.conversation_id
        and parts.part_type = 'comment'
        and parts.author_type = 'admin'
        and parts.created_at >= answered.first_ai_answer_at
    group by answered.workspace_id, answered.conversation_id
),

sources as (
    select workspace_id, conversation_id, count(*) as count_content_sources
    from content_sources
    group by workspace_id, conversation_id
),

final as (
    select
        conversations.workspace_id,
        conversations.conversation_id,
        conversations.created_at,
        cast(conversations.created_at as date) as created_date,
        conversations.state,
        conversations.ai_agent_source_type as source_type,
        conversations.ai_agent_source_title as source_title,
        conversations.ai_agent_last_answer_type as last_answer_type,
        conversations.ai_agent_resolution_state as resolution_state,
        conversations.ai_agent_last_answer_type is not null as has_answer,
        coalesce(
            conversations.ai_agent_resolution_state in ('assumed_resolution', 'confirmed_resolution'),
            false
        ) as is_resolved,
        coalesce(conversations.ai_agent_resolution_state = 'confirmed_resolution', false)
            as is_confirmed_resolution,
        coalesce(
            conversations.ai_agent_resolution_state in ('escalated', 'procedure_handoff'), false
        ) as is_handed_off,
        answered.first_ai_answer_at,
        teammate_responses.first_teammate_response_at,
        teammate_responses.first_teammate_response_at is not null as has_teammate_taken_over,
        {{ minutes_between('answered.first_ai_answer_at', 'teammate_responses.first_teammate_response_at') }}
            as minutes_to_teammate_response,
        conversations.ai_agent_rating as ai_rating,
        conversations.ai_agent_rating_remark as ai_rating_remark,
        conversations.ai_agent_rated_at as ai_rated_at,
        conversations.rating as teammate_rating,
        conversations.rating_remark as teammate_rating_remark,
        coalesce(sources.count_content_sources, 0) as count_content_sources,
        conversations.is_deleted
    from conversations
    left join answered
        on conversations.workspace_id = answered.workspace_id
        and conversations.conversation_id = answered.conversation_id
    left join teammate_responses
        on conversations.workspace_id = teammate_responses.workspace_id
        and conversations.conversation_id = teammate_responses.conversation_id
    left join sources
        on conversations.workspace_id = sources.workspace_id
        and conversations.conversation_id = sources.conversation_id
)

select * from final
