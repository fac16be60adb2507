{#- One row per conversation in which a customer wrote something (the first message or a reply by
    a contact). A message sent to many contacts that nobody answered is not feedback. The thread
    keeps each message's HTML, in order.
    Incremental: a document is rebuilt when a message of its thread was loaded again, or when
    what it says of its conversation and contact (the `described` columns) no longer matches the
    conversations mart and the contacts (a renamed company, an edited contact, another app URL). -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'conversation_id']) }}

{%- set described = [
    'intercom_url', 'title', 'status', 'channel', 'tag_names', 'custom_attributes', 'rating',
    'rating_remark', 'contact_id', 'contact_name', 'contact_email', 'company_id', 'company_name',
    'created_at',
] | join(', ') %}

with messages as (
    select * from {{ ref('int_intercom__conversation_messages') }}
),

conversations as (
    select * from {{ ref('conversations') }}
),

contacts as (
    select * from {{ ref('stg_intercom__contacts') }}
),

descriptions as (
    select
        conversations.workspace_id,
        conversations.conversation_id,
        '{{ var("intercom_app_url") }}/a/inbox/' || conversations.workspace_id
            || '/inbox/conversation/' || conversations.conversation_id as intercom_url,
        conversations.title,
        conversations.state as status,
        conversations.channel,
        conversations.tag_names,
        conversations.custom_attributes,
        conversations.rating,
        conversations.rating_remark,
        conversations.contact_id,
        contacts.contact_name,
        contacts.email as contact_email,
        conversations.company_id,
        conversations.company_name,
        conversations.created_at
    from conversations
    left join contacts
        on conversations.workspace_id = contacts.workspace_id
        and conversations.contact_id = contacts.contact_id
),

{% if is_incremental() %}
changed as (
    -- a message of the thread was loaded again (new documents among them)
    select workspace_id, conversation_id from messages where {{ loaded_since_last_build() }}
    union
    -- a stored document no longer says what its conversation and contact say
    select workspace_id, conversation_id from (
        select workspace_id, conversation_id, {{ described }} from descriptions
        except
        select workspace_id, conversation_id, {{ described }} from {{ this }}
    )
    where (workspace_id, conversation_id) in (
        select workspace_id, conversation_id from {{ this }}
    )
),

{% endif %}
thread_messages as (
    select * from messages
    {% if is_incremental() %}
    where (workspace_id, conversation_id) in (select workspace_id, conversation_id from changed)
    {% endif %}
),

threads as (
    select
        workspace_id,
        conversation_id,
        count(*) as count_messages,
        count(*) filter (where is_authored_by_contact) as count_customer_messages,
        to_json(list({
            'position': position,
            'sent_at': sent_at,
            'author_type': author_type,
            'author_id': author_id,
            'author_name': author_name,
            'body_html': body
        } order by position)) as messages,
        string_agg(body, chr(10) order by position) as thread_html,
        string_agg(body, chr(10) order by position) filter (where is_authored_by_contact)
            as customer_html,
        max(sent_at) filter (where is_authored_by_contact) as last_customer_message_at,
        max(_dlt_load_id) as _dlt_load_id
    from thread_messages
    group by all
    having count(*) filter (where is_authored_by_contact) > 0
),

attachments as (
    select
        thread_messages.workspace_id,
        thread_messages.conversation_id,
        to_json(list({
            'name': attachment.name,
            'url': attachment.url,
            'content_type': attachment.content_type
        } order by thread_messages.position)) as attachments,
        count(*) as count_attachments
    from thread_messages,
        unnest(from_json(
            thread_messages.attachments,
            '[{"name": "VARCHAR", "url": "VARCHAR", "content_type": "VARCHAR"}]'
        )) as unnested(attachment)
    group by all
)

select
    threads.workspace_id,
    threads.conversation_id,
    descriptions.intercom_url,
    descriptions.title,
    descriptions.status,
    descriptions.channel,
    descriptions.tag_names,
    descriptions.custom_attributes,
    descriptions.rating,
    descriptions.rating_remark,
    descriptions.contact_id,
    descriptions.contact_name,
    descriptions.contact_email,
    descriptions.company_id,
    descriptions.company_name,
    threads.count_messages,
    threads.count_customer_messages,
    threads.messages,
    threads.thread_html,
    threads.customer_html,
    coalesce(attachments.attachments, '[]'::json) as attachments,
    coalesce(attachments.count_attachments, 0) as count_attachments,
    descriptions.created_at,
    threads.last_customer_message_at,
    threads._dlt_load_id
from threads
inner join descriptions
    on threads.workspace_id = descriptions.workspace_id
    and threads.conversation_id = descriptions.conversation_id
left join attachments
    on threads.workspace_id = attachments.workspace_id
    and threads.conversation_id = attachments.conversation_id
