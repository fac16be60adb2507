{#- The survey request status page: one row per conversation closure seen, with its mode (test or
    production), status (pending, sending, sent, test, do_not_send, invalid, unknown), the reason
    code and the reason it was not sent or the error, the conversation, customer, channel and
    times. -#}
select
    request_id,
    workspace_id,
    conversation_id,
    contact_id,
    channel,
    metric,
    closure_source,
    mode,
    status,
    reason_code,
    reason,
    error,
    closed_at,
    first_seen_at,
    decided_at,
    sent_at,
    message_id,
    {{ minutes_between('closed_at', 'sent_at') }} as minutes_from_close_to_survey
from {{ ref('stg_surveys__requests') }}
