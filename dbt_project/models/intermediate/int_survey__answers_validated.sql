{%- set match_by_email = var('survey_match_by_email', env_var('SURVEY_MATCH_BY_EMAIL', 'false'))
    | string | lower in ('true', '1', 'yes') -%}
{#- Every answer with its meaning decided: the contact it belongs to, its metric, numeric score,
    category and times, and `rejection_reason` (null when valid). A row without a score and
    without responded_at is a survey that was sent and not (yet) answered. A contact is matched
    by Intercom id or external id; by email only with SURVEY_MATCH_BY_EMAIL=true, and never when
    the email belongs to several contacts. -#}
with answers as (
    select * from {{ ref('int_survey__answers') }}
),

contacts as (
    select workspace_id, contact_id, external_id, lower(email) as email
    from {{ ref('stg_intercom__contacts') }}
),

by_email as (
    -- An email shared by several contacts identifies nobody.
    select email, min(workspace_id) as workspace_id, min(contact_id) as contact_id,
        count(*) as matches
    from contacts
    where email is not null
    group by email
),

labels as (
    select upper(metric) as metric, lower(trim(label)) as label, score
    from {{ ref('survey_score_labels') }}
),

scales as (
    select upper(metric) as metric, min(min_score) as min_score, max(max_score) as max_score
    from {{ ref('survey_score_categories') }}
    group by all
),

normalized as (
    select
        answers.*,
        -- "5 star", "five_star" and "5-STAR" are one metric.
        case
            when regexp_replace(upper(answers.metric), '[^A-Z0-9]', '', 'g')
                in ('5STAR', '5STARS', 'FIVESTAR', 'FIVESTARS') then '5-STAR'
            else upper(answers.metric)
        end as metric_code,
        case
            when regexp_full_match(answers.score, '-?[0-9]+(\.0+)?')
                then cast(cast(answers.score as double) as integer)
        end as numeric_score,
        regexp_full_match(coalesce(answers.score, ''), '-?[0-9]+\.[0-9]*[1-9][0-9]*')
            as is_fractional,
        {{ parse_timestamp('answers.sent_at') }} as sent_at_utc,
        {{ parse_timestamp('answers.responded_at') }} as responded_at_utc
    from answers
),

resolved as (
    select
        normalized.*,
        coalesce(by_id.workspace_id, by_external.workspace_id,
            case when by_email.matches = 1 then by_email.workspace_id end) as resolved_workspace_id,
        coalesce(by_id.contact_id, by_external.contact_id,
            case when by_email.matches = 1 then by_email.contact_id end) as resolved_contact_id,
        by_email.matches as email_matches,
        coalesce(normalized.numeric_score, labels.score) as score_value,
        scales.metric is not null as is_known_metric,
        scales.min_score,
        scales.max_score
    from normalized
    left join contacts as by_id
        on normalized.contact_id = by_id.contact_id
        and (normalized.workspace_id is null or normalized.workspace_id = by_id.workspace_id)
    left join contacts as by_external
        on normalized.external_id = by_external.external_id
    left join by_email
        on {{ 'true' if match_by_email else 'false' }}
        and normalized.contact_id is null
        and normalized.external_id is null
        and lower(trim(normalized.email)) = by_email.email
    left join labels
        on normalized.numeric_score is null
        and normalized.metric_code = labels.metric
        and lower(trim(normalized.score)) = labels.label
    left join scales
        on normalized.metric_code = scales.metric
    qualify row_number() over (partition by normalized.answer_key order by by_id.workspace_id, by_external.workspace_id) = 1
),

judged as (
    select
        *,
        case
            when parse_error is not null then 'unreadable line: ' || parse_error
            when contact_id is null and external_id is null and email is null
                then 'no contact: give contact_id, external_id or email'
            when metric is null then 'no metric: give NPS, 5-STAR, CSAT or CES'
            when not is_known_metric
                then 'unknown metric ''' || metric || ''': use NPS, 5-STAR, CSAT or CES'
            when score is null and responded_at is not null
                then 'responded_at without a score'
            when score is not null and responded_at is null
                then 'a score without responded_at: say when it was answered'
            when score is not null and is_fractional
                then 'score ' || score || ' is not a whole number'
            when score is not null and score_value is null
                then 'unknown label ''' || score || ''' for ' || metric_code
                    || ': add it to seeds/survey_score_labels.csv'
            when score_value < min_score or score_value > max_score
                then 'score ' || score || ' is out of range for ' || metric_code || ' ('
                    || min_score || '-' || max_score || ')'
            when email_matches > 1
                then 'email ' || email || ' matches ' || email_matches || ' contacts'
            {%- if not match_by_email %}
            when contact_id is null and external_id is null
                then 'only an email identifies the contact: set SURVEY_MATCH_BY_EMAIL=true'
                    || ' to match contacts by email'
            {%- endif %}
            when resolved_contact_id is null
                then 'unknown contact ' || coalesce(contact_id, external_id, email)
            when sent_at is not null and sent_at_utc is null
                then 'sent_at ''' || sent_at || ''' is not a date'
            when responded_at is not null and responded_at_utc is null
                then 'responded_at ''' || responded_at || ''' is not a date'
        end as rejection_reason
    from resolved
)

select
    judged.answer_key,
    judged.answer_source,
    judged.resolved_workspace_id as workspace_id,
    judged.resolved_contact_id as contact_id,
    judged.conversation_id,
    judged.metric_code as metric,
    judged.score as raw_score,
    judged.score_value as score,
    categories.category,
    judged.comment,
    judged.sent_at_utc as sent_at,
    judged.responded_at_utc as responded_at,
    judged.score is not null as is_response,
    judged.rejection_reason,
    judged.contact_id as raw_contact_id,
    judged.external_id as raw_external_id,
    judged.email as raw_email,
    judged.metric as raw_metric,
    judged.sent_at as raw_sent_at,
    judged.responded_at as raw_responded_at
from judged
left join {{ ref('survey_score_categories') }} as categories
    on judged.metric_code = upper(categories.metric)
    and judged.score_value between categories.min_score and categories.max_score
