{#- One row per survey sent to a contact (answered or not), as far as it is known: rows of the
    survey feed with a sent_at, and surveys sent when a conversation closed (production). Intercom
    does not report when it asked for a rating. -#}
select
    answer_key as send_key,
    answer_source,
    workspace_id,
    contact_id,
    conversation_id,
    metric,
    sent_at,
    is_response as is_answered
from {{ ref('int_survey__answers_validated') }}
where rejection_reason is null and sent_at is not null
