{#- One row per survey answer that could not be used, with why and everything it said as
    written: fix the source (or seeds/survey_score_labels.csv) and it moves to survey_responses. -#}
select
    answer_key as response_key,
    answer_source,
    rejection_code,
    rejection_reason,
    raw_contact_id as contact_id,
    raw_external_id as external_id,
    raw_email as email,
    conversation_id,
    raw_metric as metric,
    raw_score as score,
    comment,
    raw_sent_at as sent_at,
    raw_responded_at as responded_at
from {{ ref('int_survey__answers_validated') }}
where rejection_reason is not null
