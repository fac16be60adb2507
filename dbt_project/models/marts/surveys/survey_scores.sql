{#- One row per workspace, day (UTC, of the response) and metric: how many answered and what the
    scores say. Each score column applies to its own metric and is null for the others. -#}
with responses as (
    select * from {{ ref('survey_responses') }}
),

counts as (
    select
        workspace_id,
        cast(responded_at as date) as response_date,
        metric,
        count(*) as responses,
        count(comment) as responses_with_comment,
        count(*) filter (where category = 'promoter') as promoters,
        count(*) filter (where category = 'passive') as passives,
        count(*) filter (where category = 'detractor') as detractors,
        count(*) filter (where category in ('satisfied', 'positive')) as positive_responses,
        count(*) filter (where category = 'neutral') as neutral_responses,
        count(*) filter (where category in ('unsatisfied', 'negative')) as negative_responses,
        sum(score) as sum_score,
        round(avg(score), 2) as average_score
    from responses
    group by all
)

select
    *,
    -- % promoters - % detractors, from the unrounded percentages, then rounded.
    case when metric = 'NPS' then {{ rate('(promoters - detractors)', 'responses') }} end as nps,
    case when metric = 'CSAT' then {{ rate('positive_responses', 'responses') }} end
        as csat_satisfied_rate,
    case when metric = 'CES' then average_score end as ces_mean
from counts
