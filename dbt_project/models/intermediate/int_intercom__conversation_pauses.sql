{#- One row per conversation with handling events: how often and how long its teammates paused
    handling it. A pause lasts until the next event of the conversation (its resumption); a
    pause not yet resumed counts in count_pauses and makes is_paused true, but adds no minutes. -#}
with events as (
    select
        *,
        lead(occurred_at) over (
            partition by workspace_id, conversation_id order by occurred_at, handling_event_id
        ) as next_event_at,
        row_number() over (
            partition by workspace_id, conversation_id
            order by occurred_at desc, handling_event_id desc
        ) as recency
    from {{ ref('stg_intercom__conversation_handling_events') }}
)

select
    workspace_id,
    conversation_id,
    count(*) filter (where event_type = 'paused') as count_pauses,
    coalesce(
        sum(date_diff('second', occurred_at, next_event_at)) filter (where event_type = 'paused'),
        0
    ) as paused_seconds,
    bool_or(recency = 1 and event_type = 'paused') as is_paused
from events
group by all
