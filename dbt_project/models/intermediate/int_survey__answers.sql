{#- Every survey answer or send in one text shape, before validation: Intercom conversation
    ratings (CSAT 1-5, asked by Intercom when a conversation closes), the survey feed, and the
    surveys sent when conversations closed (production sends only). -#}
with ratings as (
    select
        'intercom-rating:' || conversations.workspace_id || ':' || conversations.conversation_id
            as answer_key,
        'intercom_rating' as answer_source,
        conversations.workspace_id,
        coalesce(conversations.rating_contact_id, customers.contact_id) as contact_id,
        cast(null as varchar) as external_id,
        cast(null as varchar) as email,
        conversations.conversation_id,
        'CSAT' as metric,
        cast(conversations.rating as varchar) as score,
        conversations.rating_remark as comment,
        -- Intercom does not say when it asked for the rating.
        cast(null as varchar) as sent_at,
        strftime(conversations.rated_at, '%Y-%m-%dT%H:%M:%S') as responded_at,
        cast(null as varchar) as parse_error,
        cast(null as varchar) as superseded_by
    from {{ ref('stg_intercom__conversations') }} as conversations
    left join {{ ref('int_intercom__conversation_customers') }} as customers
        on conversations.workspace_id = customers.workspace_id
        and conversations.conversation_id = customers.conversation_id
    where conversations.rating is not null
),

feed as (
    select
        answer_key,
        'survey_feed' as answer_source,
        cast(null as varchar) as workspace_id,
        contact_id,
        external_id,
        email,
        conversation_id,
        metric,
        score,
        comment,
        sent_at,
        responded_at,
        parse_error,
        superseded_by
    from {{ ref('stg_survey_feed__responses') }}
),

requests as (
    select
        'survey-request:' || request_id as answer_key,
        'survey_request' as answer_source,
        workspace_id,
        contact_id,
        cast(null as varchar) as external_id,
        cast(null as varchar) as email,
        conversation_id,
        metric,
        cast(null as varchar) as score,
        cast(null as varchar) as comment,
        strftime(sent_at, '%Y-%m-%dT%H:%M:%S') as sent_at,
        cast(null as varchar) as responded_at,
        cast(null as varchar) as parse_error,
        cast(null as varchar) as superseded_by
    from {{ ref('stg_surveys__requests') }}
    where status = 'sent' and mode = 'production'
)

select * from ratings
union all
select * from feed
union all
select * from requests
