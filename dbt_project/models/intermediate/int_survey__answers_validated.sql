{%- set match_by_email = var('survey_match_by_email') | string | lower in ('true', '1', 'yes') -%}
{#- Every answer with its meaning decided: the contact it belongs to, its metric, numeric score,
    category and times, and why it cannot be used: `rejection_code` (stable, for filters) and
    `rejection_reason` (in words), both null when valid. A row without a score and without
    responded_at is a survey that was sent and not (yet) answered; one without sent_at either
    says nothing and is rejected. A contact is matched by Intercom id, else external id, else
    (only with SURVEY_MATCH_BY_EMAIL=true) email, within the answer's workspace when it has one
    (ratings, surveys on close) and across workspaces for the feed, which names none. An
    identifier that matches several contacts identifies nobody: the answer is rejected. -#}
with answers as (
    select * from {{ ref('int_survey__answers') }}
),

contacts as (
    select workspace_id, contact_id, external_id, lower(email) as email
    from {{ ref('stg_intercom__contacts') }}
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

candidates as (
    -- Every contact an answer could be, ranked by how it was named: 1 id, 2 external id, 3 email.
    select normalized.answer_key, contacts.workspace_id, contacts.contact_id, 1 as match_rank
    from normalized
    inner join contacts
        on normalized.contact_id = contacts.contact_id
        and (normalized.workspace_id is null or normalized.workspace_id = contacts.workspace_id)
    union all
    select normalized.answer_key, contacts.workspace_id, contacts.contact_id, 2 as match_rank
    from normalized
    inner join contacts
        on normalized.external_id = contacts.external_id
        and (normalized.workspace_id is null or normalized.workspace_id = contacts.workspace_id)
    union all
    select normalized.answer_key, contacts.workspace_id, contacts.contact_id, 3 as match_rank
    from normalized
    inner join contacts
        on {{ 'true' if match_by_email else 'false' }}
        and normalized.contact_id is null
        and normalized.external_id is null
        and lower(trim(normalized.email)) = contacts.email
        and (normalized.workspace_id is null or normalized.workspace_id = contacts.workspace_id)
),

best_candidates as (
    select * from candidates
    qualify match_rank = min(match_rank) over (partition by answer_key)
),

matches as (
    -- Exactly one best-ranked candidate is a match; more are ambiguous.
    select
        answer_key,
        min(match_rank) as match_rank,
        count(*) as contact_matches,
        min(workspace_id) as workspace_id,
        min(contact_id) as contact_id
    from best_candidates
    group by answer_key
),

resolved as (
    select
        normalized.*,
        case when matches.contact_matches = 1 then matches.workspace_id end
            as resolved_workspace_id,
        case when matches.contact_matches = 1 then matches.contact_id end as resolved_contact_id,
        matches.match_rank,
        matches.contact_matches,
        coalesce(normalized.numeric_score, labels.score) as score_value,
        scales.metric is not null as is_known_metric,
        scales.min_score,
        scales.max_score
    from normalized
    left join matches
        on normalized.answer_key = matches.answer_key
    left join labels
        on normalized.numeric_score is null
        and normalized.metric_code = labels.metric
        and lower(trim(normalized.score)) = labels.label
    left join scales
        on normalized.metric_code = scales.metric
),

coded as (
    -- Why an answer cannot be used, as a stable code (null when valid): the first that applies.
    select
        *,
        case
            -- A whole file that is not UTF-8 CSV or JSON Lines stands as one row whose parse_error
            -- starts so (intercom_pipeline/sources/survey_feed/reader.py, unreadable_file_row).
            when parse_error like 'whole file not loaded: %' then 'unreadable_file'
            when parse_error is not null then 'unreadable_line'
            when superseded_by is not null then 'superseded'
            when contact_id is null and external_id is null and email is null then 'no_contact'
            when metric is null then 'no_metric'
            when not is_known_metric then 'unknown_metric'
            when score is null and responded_at is not null then 'no_score_with_responded_at'
            when score is null and sent_at is null then 'neither_answer_nor_send'
            when score is not null and responded_at is null then 'no_responded_at'
            when score is not null and is_fractional then 'fractional_score'
            when score is not null and score_value is null then 'unknown_label'
            when score_value < min_score or score_value > max_score then 'out_of_range'
            when contact_matches > 1 and match_rank = 1 then 'ambiguous_contact_id'
            when contact_matches > 1 and match_rank = 2 then 'ambiguous_external_id'
            when contact_matches > 1 then 'ambiguous_email'
            {%- if not match_by_email %}
            when contact_id is null and external_id is null then 'email_matching_off'
            {%- endif %}
            when resolved_contact_id is null then 'unknown_contact'
            when sent_at is not null and sent_at_utc is null then 'bad_sent_at'
            when responded_at is not null and responded_at_utc is null then 'bad_responded_at'
        end as rejection_code
    from resolved
),

judged as (
    -- The code in words, with the values that explain it.
    select
        *,
        case rejection_code
            when 'unreadable_file' then 'unreadable file: ' || parse_error[length('whole file not loaded: ') + 1:]
            when 'unreadable_line' then 'unreadable line: ' || parse_error
            when 'superseded' then 'response_id repeated: superseded by ' || superseded_by
            when 'no_contact' then 'no contact: give contact_id, external_id or email'
            when 'no_metric' then 'no metric: give NPS, 5-STAR, CSAT or CES'
            when 'unknown_metric'
                then 'unknown metric ''' || metric || ''': use NPS, 5-STAR, CSAT or CES'
            when 'no_score_with_responded_at' then 'responded_at without a score'
            when 'neither_answer_nor_send'
                then 'no score and no sent_at: neither an answer nor a survey sent'
            when 'no_responded_at' then 'a score without responded_at: say when it was answered'
            when 'fractional_score' then 'score ' || score || ' is not a whole number'
            when 'unknown_label'
                then 'unknown label ''' || score || ''' for ' || metric_code
                    || ': add it to seeds/survey_score_labels.csv'
            when 'out_of_range'
                then 'score ' || score || ' is out of range for ' || metric_code || ' ('
                    || min_score || '-' || max_score || ')'
            when 'ambiguous_contact_id'
                then 'contact_id ' || contact_id || ' matches ' || contact_matches || ' contacts'
            when 'ambiguous_external_id'
                then 'external_id ' || external_id || ' matches ' || contact_matches || ' contacts'
            when 'ambiguous_email'
                then 'email ' || email || ' matches ' || contact_matches || ' contacts'
            when 'email_matching_off'
                then 'only an email identifies the contact: set SURVEY_MATCH_BY_EMAIL=true'
                    || ' to match contacts by email'
            when 'unknown_contact'
                then 'unknown contact ' || coalesce(contact_id, external_id, email)
            when 'bad_sent_at' then 'sent_at ''' || sent_at || ''' is not a date'
            when 'bad_responded_at' then 'responded_at ''' || responded_at || ''' is not a date'
        end as rejection_reason
    from coded
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
    judged.rejection_code,
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
