{#- The support metrics of conversations grouped by the day they were created (UTC) and by
    `dimensions` (e.g. the team). Shared by the three support_metrics marts so the formulas exist
    once. Rates are percentages with two decimals; a zero denominator gives null. -#}
{% macro support_metrics(dimensions=[]) %}
with conversations as (
    select * from {{ ref('conversations') }}
),

counts as (
    select
        workspace_id,
        cast(created_at as date) as metric_date,
        {%- for dimension in dimensions %}
        {{ dimension }},
        {%- endfor %}
        count(*) as conversations,
        count(rating) as rated_conversations,
        count(*) filter (where rating in (4, 5)) as rated_positive,
        count(*) filter (where rating in (1, 2)) as rated_negative,
        count(*) filter (where state = 'closed') as resolved,
        count(*) filter (where state is distinct from 'closed') as unresolved,
        count(*) filter (where has_ticket) as tickets
    from conversations
    group by all
)

select
    *,
    {{ rate('rated_positive', 'rated_conversations') }} as satisfaction_rate,
    {{ rate('rated_negative', 'rated_conversations') }} as dissatisfaction_rate,
    {{ rate('rated_conversations', 'conversations') }} as response_rate,
    {{ rate('tickets', 'conversations') }} as conversation_to_ticket_rate
from counts
{% endmacro %}
