{#- One row per workspace and UTC day on which conversations were created: how much the AI agent
    took part, resolved, handed over, and how customers rated it beside the teammates. Rates are
    percentages (macros/metrics.sql `rate`): null when their denominator is zero. -#}
with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
),

ai_conversations as (
    select * from {{ ref('ai_agent_conversations') }}
),

daily as (
    select
        conversations.workspace_id,
        cast(conversations.created_at as date) as metric_date,
        count(*) as conversations,
        count(ai_conversations.conversation_id) as ai_conversations,
        count(*) filter (where ai_conversations.has_answer) as ai_answered_conversations,
        count(*) filter (where ai_conversations.is_resolved) as ai_resolved_conversations,
        count(*) filter (where ai_conversations.is_confirmed_resolution)
            as ai_confirmed_resolutions,
        count(*) filter (where ai_conversations.is_handed_off) as ai_handed_off_conversations,
        count(ai_conversations.ai_rating) as ai_rated_conversations,
        count(*) filter (where ai_conversations.ai_rating >= 4) as ai_rated_positive,
        count(conversations.rating) as teammate_rated_conversations,
        count(*) filter (where conversations.rating >= 4) as teammate_rated_positive
    from conversations
    left join ai_conversations
        on conversations.workspace_id = ai_conversations.workspace_id
        and conversations.conversation_id = ai_conversations.conversation_id
    where conversations.created_at is not null
    group by conversations.workspace_id, cast(conversations.created_at as date)
)

select
    *,
    {{ rate('ai_conversations', 'conversations') }} as involvement_rate,
    {{ rate('ai_resolved_conversations', 'ai_answered_conversations') }} as resolution_rate,
    {{ rate('ai_confirmed_resolutions', 'ai_resolved_conversations') }} as confirmed_share,
    {{ rate('ai_handed_off_conversations', 'ai_answered_conversations') }} as handoff_rate,
    {{ rate('ai_rated_positive', 'ai_rated_conversations') }} as ai_csat,
    {{ rate('teammate_rated_positive', 'teammate_rated_conversations') }} as teammate_csat
from daily
