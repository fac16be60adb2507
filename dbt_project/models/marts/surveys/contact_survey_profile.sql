{#- One row per contact with a survey sent or answered: the latest answer (score, comment,
    category, metric) and the counts and times of sends and responses. The push-back to Intercom
    reads this mart. -#}
with responses as (
    select * from {{ ref('survey_responses') }}
),

sends as (
    select * from {{ ref('survey_sends') }}
),

response_summary as (
    select
        workspace_id,
        contact_id,
        count(*) as count_responses,
        min(responded_at) as first_response_at,
        max(responded_at) as last_response_at
    from responses
    group by all
),

latest_answers as (
    -- The latest answer wins; on a tie, the last key for a stable choice.
    select *
    from responses
    qualify row_number() over (
        partition by workspace_id, contact_id order by responded_at desc, response_key desc
    ) = 1
),

latest as (
    select
        response_summary.*,
        latest_answers.response_key as last_response_key,
        latest_answers.metric as last_metric,
        latest_answers.score as last_score,
        latest_answers.category as last_category,
        latest_answers.comment as last_comment
    from response_summary
    inner join latest_answers
        on response_summary.workspace_id = latest_answers.workspace_id
        and response_summary.contact_id = latest_answers.contact_id
),

send_summary as (
    select
        workspace_id,
        contact_id,
        count(*) as count_sent,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at
    from sends
    group by all
),

contacts_with_surveys as (
    select workspace_id, contact_id from latest
    union
    select workspace_id, contact_id from send_summary
)

select
    contacts_with_surveys.workspace_id,
    contacts_with_surveys.contact_id,
    contacts.external_id,
    contacts.email,
    contacts.is_deleted,
    latest.last_metric,
    latest.last_score,
    latest.last_category,
    latest.last_comment,
    latest.last_response_key,
    coalesce(latest.count_responses, 0) as count_responses,
    latest.first_response_at,
    latest.last_response_at,
    coalesce(send_summary.count_sent, 0) as count_sent,
    send_summary.first_sent_at,
    send_summary.last_sent_at
from contacts_with_surveys
left join latest
    on contacts_with_surveys.workspace_id = latest.workspace_id
    and contacts_with_surveys.contact_id = latest.contact_id
left join send_summary
    on contacts_with_surveys.workspace_id = send_summary.workspace_id
    and contacts_with_surveys.contact_id = send_summary.contact_id
left join {{ ref('stg_intercom__contacts') }} as contacts
    on contacts_with_surveys.workspace_id = contacts.workspace_id
    and contacts_with_surveys.contact_id = contacts.contact_id
