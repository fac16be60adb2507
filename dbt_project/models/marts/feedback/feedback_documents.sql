{#- One row per conversation in which a customer wrote something (the first message or a reply by
    a contact). A message sent to many contacts that nobody answered is not feedback. The thread
    keeps each message's HTML, in order. -#}
with messages as (
    select * from {{ ref('int_intercom__conversation_messages') }}
),

conversations as (
    select * from {{ ref('conversations') }}
),

contacts as (
    select * from {{ ref('stg_intercom__contacts') }}
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
        max(sent_at) filter (where is_authored_by_contact) as last_customer_message_at
    from messages
    group by all
    having count(*) filter (where is_authored_by_contact) > 0
),

attachments as (
    select
        messages.workspace_id,
        messages.conversation_id,
        to_json(list({
            'name': attachment.name,
            'url': attachment.url,
            'content_type': attachment.content_type
        } order by messages.position)) as attachments,
        count(*) as count_attachments
    from messages,
        unnest(from_json(
            messages.attachments,
            '[{"name": "VARCHAR", "url": "VARCHAR", "content_type": "VARCHAR"}]'
        )) as unnested(attachment)
    group by all
)

select
    threads.workspace_id,
    threads.conversation_id,
    '{{ var("intercom_app_url") }}/a/inbox/' || threads.workspace_id
        || '/inbox/conversation/' || threads.conversation_id as intercom_url,
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
    threads.count_messages,
    threads.count_customer_messages,
    threads.messages,
    threads.thread_html,
    threads.customer_html,
    coalesce(attachments.attachments, '[]'::json) as attachments,
    coalesce(attachments.count_attachments, 0) as count_attachments,
    conversations.created_at,
    threads.last_customer_message_at
from threads
inner join conversations
    on threads.workspace_id = conversations.workspace_id
    and threads.conversation_id = conversations.conversation_id
left join contacts
    on conversations.workspace_id = contacts.workspace_id
    and conversations.contact_id = contacts.contact_id
left join attachments
    on threads.workspace_id = attachments.workspace_id
    and threads.conversation_id = attachments.conversation_id
