{#- One row per valid survey answer, from Intercom conversation ratings (CSAT 1-5) and the survey
    feed. Invalid answers are in survey_response_quarantine instead, never here. -#}
select
    answer_key as response_key,
    answer_source,
    workspace_id,
    contact_id,
    conversation_id,
    metric,
    score,
    raw_score,
    category,
    comment,
    sent_at,
    responded_at
from {{ ref('int_survey__answers_validated') }}
where rejection_reason is null and is_response
