{#- One row per content source the AI agent answered from (workspace, content type, content_key:
    its url, else its title): the conversations that cite it and how they ended. An article
    source is linked to the help center's article: by url (the article's public url), else by
    title when exactly one of the workspace's articles has it. -#}
with content_sources as (
    select * from {{ ref('stg_intercom__conversation_content_sources') }}
),

ai_conversations as (
    select * from {{ ref('ai_agent_conversations') }}
),

articles as (
    select * from {{ ref('stg_intercom__articles') }}
),

citations as (
    -- One row per (conversation, source), however often the conversation lists it.
    select distinct
        content_sources.workspace_id,
        content_sources.content_type,
        coalesce(content_sources.url, content_sources.title) as content_key,
        content_sources.conversation_id
    from content_sources
    where coalesce(content_sources.url, content_sources.title) is not null
),

described as (
    -- The source's latest title, url and locale (by its conversation's creation).
    select
        content_sources.workspace_id,
        content_sources.content_type,
        coalesce(content_sources.url, content_sources.title) as content_key,
        arg_max(content_sources.title, ai_conversations.created_at) as title,
        arg_max(content_sources.url, ai_conversations.created_at) as url,
        arg_max(content_sources.locale, ai_conversations.created_at) as locale
    from content_sources
    left join ai_conversations
        on content_sources.workspace_id = ai_conversations.workspace_id
        and content_sources.conversation_id = ai_conversations.conversation_id
    where coalesce(content_sources.url, content_sources.title) is not null
    group by all
),

performance as (
    select
        citations.workspace_id,
        citations.content_type,
        citations.content_key,
        count(*) as conversations,
        count(*) filter (where ai_conversations.is_resolved) as resolved_conversations,
        count(*) filter (where ai_conversations.is_confirmed_resolution)
            as confirmed_resolutions,
        count(*) filter (where ai_conversations.is_handed_off) as handed_off_conversations,
        count(ai_conversations.ai_rating) as rated_conversations,
        count(*) filter (where ai_conversations.ai_rating >= 4) as rated_positive,
        round(avg(ai_conversations.ai_rating), 2) as average_ai_rating,
        min(ai_conversations.created_at) as first_cited_at,
        max(ai_conversations.created_at) as last_cited_at
    from citations
    left join ai_conversations
        on citations.workspace_id = ai_conversations.workspace_id
        and citations.conversation_id = ai_conversations.conversation_id
    group by all
),

titled_once as (
    select workspace_id, title, min(article_id) as article_id
    from articles
    where title is not null
    group by workspace_id, title
    having count(*) = 1
),

final as (
    select
        performance.workspace_id,
        performance.content_type,
        performance.content_key,
        described.title,
        described.url,
        described.locale,
        coalesce(by_url.article_id, by_title.article_id) as article_id,
        case
            when by_url.article_id is not null then 'url'
            when by_title.article_id is not null then 'title'
        end as article_matched_by,
        performance.conversations,
        performance.resolved_conversations,
        performance.confirmed_resolutions,
        performance.handed_off_conversations,
        performance.rated_conversations,
        performance.rated_positive,
        {{ rate('performance.resolved_conversations', 'performance.conversations') }}
            as resolution_rate,
        {{ rate('performance.handed_off_conversations', 'performance.conversations') }}
            as handoff_rate,
        performance.average_ai_rating,
        {{ rate('performance.rated_positive', 'performance.rated_conversations') }} as ai_csat,
        performance.first_cited_at,
        performance.last_cited_at
    from performance
    inner join described
        on performance.workspace_id = described.workspace_id
        and performance.content_type = described.content_type
        and performance.content_key = described.content_key
    left join articles as by_url
        on performance.content_type = 'article'
        and performance.workspace_id = by_url.workspace_id
        and described.url = by_url.url
    left join titled_once as by_title
        on performance.content_type = 'article'
        and by_url.article_id is null
        and performance.workspace_id = by_title.workspace_id
        and described.title = by_title.title
)

select * from final
