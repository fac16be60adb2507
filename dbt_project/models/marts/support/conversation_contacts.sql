{#- One row per (conversation, contact): who took part in which conversation. -#}
select
    links.workspace_id,
    links.conversation_id,
    links.contact_id,
    contacts.external_id,
    contacts.contact_name,
    contacts.email,
    contacts.role
from {{ ref('stg_intercom__conversation_contacts') }} as links
left join {{ ref('stg_intercom__contacts') }} as contacts
    on links.workspace_id = contacts.workspace_id
    and links.contact_id = contacts.contact_id
