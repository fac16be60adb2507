{#- The real seeds/survey_score_categories.csv gives every score of every scale exactly one
    category, the one the issue defines: NPS 0-6 detractor, 7-8 passive, 9-10 promoter; 5-STAR
    1-2 negative, 3 neutral, 4-5 positive; CSAT 1-2 unsatisfied, 3 neutral, 4-5 satisfied; CES
    1-3 negative, 4 neutral, 5-7 positive. Each band edge is listed; a score outside every scale
    must fall in no band. Returns the scores where the seed disagrees. -#}
with expected (metric, score, category) as (
    values
        ('NPS', -1, null), ('NPS', 0, 'detractor'), ('NPS', 6, 'detractor'),
        ('NPS', 7, 'passive'), ('NPS', 8, 'passive'), ('NPS', 9, 'promoter'),
        ('NPS', 10, 'promoter'), ('NPS', 11, null),
        ('5-STAR', 0, null), ('5-STAR', 1, 'negative'), ('5-STAR', 2, 'negative'),
        ('5-STAR', 3, 'neutral'), ('5-STAR', 4, 'positive'), ('5-STAR', 5, 'positive'),
        ('5-STAR', 6, null),
        ('CSAT', 0, null), ('CSAT', 1, 'unsatisfied'), ('CSAT', 2, 'unsatisfied'),
        ('CSAT', 3, 'neutral'), ('CSAT', 4, 'satisfied'), ('CSAT', 5, 'satisfied'),
        ('CSAT', 6, null),
        ('CES', 0, null), ('CES', 1, 'negative'), ('CES', 3, 'negative'), ('CES', 4, 'neutral'),
        ('CES', 5, 'positive'), ('CES', 7, 'positive'), ('CES', 8, null)
),

every_score as (
    -- Every whole score of each scale, edges or not: each must have one band.
    select metric, unnest(range(low, high + 1)) as score
    from (values ('NPS', 0, 10), ('5-STAR', 1, 5), ('CSAT', 1, 5), ('CES', 1, 7))
        as scales (metric, low, high)
),

seeded as (
    select
        scores.metric,
        scores.score,
        count(bands.category) as bands,
        min(bands.category) as category
    from (select metric, score from expected union select metric, score from every_score) as scores
    left join {{ ref('survey_score_categories') }} as bands
        on upper(bands.metric) = scores.metric
        and scores.score between bands.min_score and bands.max_score
    group by all
)

select seeded.metric, seeded.score, seeded.bands, seeded.category,
    expected.category as expected_category
from seeded
left join expected
    on seeded.metric = expected.metric
    and seeded.score = expected.score
where seeded.bands > 1
    or (expected.metric is null and seeded.bands <> 1)
    or (expected.metric is not null and seeded.category is distinct from expected.category)

union all

-- A metric in the seed that the scales above do not know.
select upper(metric), null, count(*), null, null
from {{ ref('survey_score_categories') }}
where upper(metric) not in ('NPS', '5-STAR', 'CSAT', 'CES')
group by all
